"""The service reuses ``medvlm.settings`` and adds one rule: no default secret outside development."""

from __future__ import annotations

from medvlm.errors import ConfigError
from medvlm.settings import DEFAULT_SECRET, Settings, get_settings

MIN_SECRET_LENGTH = 32


def service_settings(settings: Settings | None = None) -> Settings:
    settings = settings or get_settings()
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

    check_directory_settings(settings)
    return settings
