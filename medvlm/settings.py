"""One settings object for the library, the CLI and the service (``MEDVLM_`` environment variables)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
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
    max_zip_total_bytes: int = 8 * 1024 * 1024 * 1024

    # Model.
    model_dir: Path | None = None
    image_size: int = 256

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
    # Absolute minimums for production (medvlm.registry.floors); None: curricula/promotion_floors.yaml.
    promotion_floors: Path | None = None

    # DICOM network (C-STORE / C-ECHO listener); 0 disables it in ``medvlm serve``.
    dicom_ae_title: str = "MEDVLM"
    dicom_port: int = 0

    @model_validator(mode="after")
    def _refuse_unsafe_defaults(self) -> Settings:
        if self.environment == "production" and self.secret_key == DEFAULT_SECRET:
            raise ValueError("MEDVLM_SECRET_KEY must be set to a non-default secret outside development")
        return self

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
