"""The one rule for secrets in settings: they come from the environment (or a file), never config.toml."""

from __future__ import annotations

import os
from typing import Any

from pydantic import SecretStr

# Every secret setting (as a key path in config.toml) and the environment variable it comes from.
SECRET_PATHS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("salesforce", "client_secret"), "MSR_ENGAGE_SALESFORCE__CLIENT_SECRET (or client_secret_file)"),
    (("salesforce", "refresh_token"), "MSR_ENGAGE_SALESFORCE__REFRESH_TOKEN (or refresh_token_file)"),
    (("pixel", "token_secret"), "MSR_ENGAGE_PIXEL__TOKEN_SECRET"),
    (("pixel", "token_previous_secrets"), "MSR_ENGAGE_PIXEL__TOKEN_PREVIOUS_SECRETS"),
    (("pixel", "api", "auth_value"), "MSR_ENGAGE_PIXEL__API__AUTH_VALUE"),
)


def env_has(name: str) -> bool:
    """Whether the environment sets `name` (case-insensitively, as pydantic-settings reads it)."""
    return any(key.upper() == name for key in os.environ)


def refuse_secret_from_file(data: Any, key: str, env: str, alternative: str = "") -> None:
    """ValueError when `key` holds a value that came from config.toml rather than from `env`."""
    # Env and TOML arrive merged; a secret present without its env variable came from the file.
    given = isinstance(data, dict) and data.get(key) is not None and not isinstance(data[key], SecretStr)
    if given and not env_has(env):
        raise ValueError(
            f"{key} is a secret and must not be in config.toml: remove it and set {env}{alternative}"
        )
