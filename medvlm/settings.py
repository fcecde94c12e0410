"""One settings object for the library, the CLI and the service (``MEDVLM_`` environment variables)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "change-me-development-only"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MEDVLM_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Field(default=Path("var"), description="Root for the study store, models and job files.")
    database_url: str = Field(default="", description="SQLAlchemy URL; empty means SQLite in data_dir.")

    # Ingestion limits: checked before anything is decoded or buffered whole.
    max_file_bytes: int = 512 * 1024 * 1024
    max_pixels: int = 64 * 1024 * 1024
    max_zip_members: int = 20_000
    max_zip_ratio: int = 200
    # What a whole archive may inflate to: a study rarely passes a few hundred MB; 2,048 members of 1 MiB
    # each stay under the bomb ratio yet fill 2 GiB of disk and time (issue 19).
    max_zip_total_bytes: int = 1024 * 1024 * 1024
    # Sequence nesting (an SR is about ten deep); 500 levels in 300 KB cost pydicom and every walk dearly.
    max_sequence_depth: int = Field(default=32, ge=1, le=1000)

    # De-identification: DX/CR films without a BurnedInAnnotation flag may have the patient's name printed
    # in the pixels, so they are not exported unless the site has reviewed its sources and says so.
    deid_accept_unknown_burned_in: bool = False

    # Model.
    model_dir: Path | None = None
    image_size: int = 256
    # sha256 digests (medvlm.model.remote_code.code_digest) of checkpoint code a site has reviewed; a
    # path: checkpoint with its own Python (auto_map) loads only when its digest is listed here.
    trusted_remote_code: list[str] = Field(default_factory=list)

    # Service.
    host: str = "127.0.0.1"
    port: int = 8000
    secret_key: str = DEFAULT_SECRET
    session_idle_minutes: int = 30
    max_upload_bytes: int = 1024 * 1024 * 1024
    job_max_attempts: int = 3
    # Threads per API process for blocking work (sync routes, database): few, because Python threads share
    # one core's worth of interpreter and contend for it. Under 32 closed-loop clients on 2 cores, 12
    # threads cost 7-8 ms of CPU per request against 5-6 ms with 4 or 6 (worklist p95 ~300 vs ~200 ms);
    # Starlette's 40 was worse still. Once a request took one hop instead of two, 4 beat 6 and 2 (p95
    # 122-137 ms against 141-162 and 129-131) and still leaves room for slow requests (a render, an export).
    # With GET requests down to three or four round trips (autocommit, one-statement audit) a thread waits
    # less and 3 beat 4 (paired runs: 575 vs 531 req/s, p95 82 vs 87 ms; 2: 584, 79; 1: 581, 81; 8: 488,
    # 110); 3 rather than 2 so that one slow request holds a third of a process, not half.
    api_threads: int = Field(default=3, ge=1, le=256)
    # Worklist pages kept per API process while the worklist version is unchanged
    # (``service.studies.worklist_cache``); 0 turns the cache off.
    worklist_cache_mb: int = Field(default=32, ge=0, le=4096)
    promotion_tolerance: float = 0.01
    # The same per finding (AUROC, findings with >= 10 validation positives): wider, since one finding's
    # AUROC on a few dozen positives moves by a few hundredths between runs of one model.
    promotion_finding_tolerance: float = 0.05
    # Absolute minimums for production (medvlm.registry.floors); None: curricula/promotion_floors.yaml.
    promotion_floors: Path | None = None

    # DICOM network (C-STORE / C-ECHO listener); 0 disables it in ``medvlm serve``.
    dicom_ae_title: str = "MEDVLM"
    dicom_port: int = 0
    # Calling AE titles allowed to associate, comma-separated (empty: any; set it outside a test bench).
    dicom_allowed_aes: str = ""
    # An association that sends nothing for this long is aborted, and at most this many are open at once:
    # idle peers cannot hold every slot and lock the modalities out (pynetdicom's default is 10, no idle
    # limit but 60 s of network timeout).
    dicom_idle_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    dicom_max_associations: int = Field(default=32, ge=1, le=1024)

    # The PACS that holds earlier studies (priors): queried with C-FIND, retrieved with C-GET
    # (``medvlm.pacs.query``). Empty host: no prior retrieval. We call it as ``dicom_ae_title``.
    pacs_host: str = ""
    pacs_port: int = Field(default=104, ge=1, le=65535)
    pacs_ae_title: str = "ANY-SCP"
    pacs_timeout_seconds: float = Field(default=30.0, gt=0)
    # A DICOMweb PACS instead (QIDO-RS + WADO-RS, ``medvlm.pacs.dicomweb_query``), e.g.
    # http://pacs:8042/dicom-web; when set it is used rather than C-FIND / C-GET.
    pacs_dicomweb_url: str = ""
    priors_max: int = Field(default=3, ge=0, le=50, description="Most recent priors fetched per study.")
    # Fetch a study's priors in the worker before drafting it (so the draft's comparison line names them).
    priors_auto_fetch: bool = False

    # HL7v2 results out (``service.hl7``): an ORU^R01 per signature and per addendum, over MLLP to this
    # endpoint (a RIS / EHR interface engine). Empty host: no messages are queued.
    hl7_host: str = ""
    hl7_port: int = Field(default=2575, ge=1, le=65535)
    hl7_sending_application: str = "MEDVLM"
    hl7_sending_facility: str = ""
    hl7_receiving_application: str = ""
    hl7_receiving_facility: str = ""
    hl7_timeout_seconds: float = Field(default=10.0, gt=0)
    hl7_retry_seconds: float = Field(default=30.0, gt=0, description="First retry delay; doubles, max 1 h.")
    hl7_max_attempts: int = Field(default=20, ge=1)

    # Directory sign-on (``service.auth.ldap``): LDAP / Active Directory bind; local accounts still work.
    # Empty URL: directory sign-on is off. ``ldap_group_roles`` maps group DNs to roles (JSON in the env).
    ldap_url: str = ""
    ldap_bind_dn: str = Field(default="", description="Service account for user look-ups; empty: anonymous.")
    ldap_bind_password: str = ""
    ldap_user_base: str = ""
    ldap_user_filter: str = "(uid={username})"  # Active Directory: (sAMAccountName={username})
    ldap_group_base: str = ""
    ldap_group_filter: str = "(|(member={dn})(uniqueMember={dn}))"
    ldap_group_roles: dict[str, str] = Field(default_factory=dict)
    ldap_timeout_seconds: float = Field(default=5.0, gt=0)
    ldap_ca_file: str = Field(default="", description="PEM CA(s) for ldaps://; empty: the system's CAs.")

    # OpenID Connect sign-on (``service.auth.oidc``): authorization code flow with PKCE against the
    # hospital's identity provider; local accounts and LDAP still work. Empty issuer: OIDC is off.
    oidc_issuer: str = Field(default="", description="The IdP's issuer URL (discovery is read under it).")
    oidc_client_id: str = ""
    oidc_client_secret: str = Field(default="", description="Empty for a public client (PKCE alone).")
    oidc_redirect_uri: str = Field(default="", description="https://<host>/api/v1/auth/oidc/callback")
    oidc_scopes: str = "openid profile email"
    oidc_username_claim: str = "preferred_username"
    oidc_groups_claim: str = "groups"  # Keycloak/ADFS/Entra: a list of group (or role) names
    oidc_group_roles: dict[str, str] = Field(
        default_factory=dict, description="Group -> role; empty: the LDAP mapping (ldap_group_roles)."
    )
    oidc_timeout_seconds: float = Field(default=5.0, gt=0)
    oidc_leeway_seconds: int = Field(default=30, ge=0, le=300)  # clock skew allowed on exp / iat
    oidc_ca_file: str = Field(default="", description="PEM CA(s) for the IdP; empty: the system's CAs.")
    oidc_display_name: str = Field(default="SSO", max_length=60,
                                   description="The login page's button reads 'Sign in with <this>'.")

    @property
    def dicom_allowed_ae_list(self) -> list[str]:
        return [title.strip() for title in self.dicom_allowed_aes.split(",") if title.strip()]

    @property
    def store_dir(self) -> Path:
        return self.data_dir / "store"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'medvlm.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
