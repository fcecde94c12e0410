"""The service reuses ``medvlm.settings`` and adds the one secret rule: no default or short secret outside
development (the only place it is checked: only the service signs with it), and
in development the public default is never used to sign: a random secret is kept in the data folder
instead (tokens forged with the published default are refused everywhere)."""

from __future__ import annotations

import os
import secrets

from medvlm.errors import ConfigError
from medvlm.settings import DEFAULT_SECRET, Settings, get_settings

MIN_SECRET_LENGTH = 32


def _development_secret(settings: Settings) -> str:
    """A random secret made once per data folder (0600), shared by every process serving that folder."""
    path = settings.data_dir / "development-secret.key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_text().strip()
        if len(secret) >= MIN_SECRET_LENGTH:
            return secret
        raise ConfigError(f"{path} holds no usable secret: delete it to have a new one made") from None
    secret = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    return secret


def service_settings(settings: Settings | None = None) -> Settings:
    settings = settings or get_settings()
    if settings.environment == "development" and settings.secret_key == DEFAULT_SECRET:
        return settings.model_copy(update={"secret_key": _development_secret(settings)})
    if settings.environment != "development":
        if settings.secret_key == DEFAULT_SECRET:
            raise ConfigError(
                f"refusing to start in '{settings.environment}' mode with the default secret: "
                "set MEDVLM_SECRET_KEY"
            )
        if len(settings.secret_key) < MIN_SECRET_LENGTH:
            raise ConfigError(
                f"MEDVLM_SECRET_KEY is {len(settings.secret_key)} characters; at least "
                f"{MIN_SECRET_LENGTH} are needed outside development"
            )
    from medvlm.service.auth.ldap import check_directory_settings
    from medvlm.service.auth.oidc import check_oidc_settings

    check_directory_settings(settings)
    check_oidc_settings(settings)
    return settings
