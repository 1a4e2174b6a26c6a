"""One typed settings object: `config.toml`, then `MSR_ENGAGE_*` environment overrides (`__` nests).

Build it once at the entry point with `load_settings` and pass it down.
"""

from __future__ import annotations

import math
import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from connector.config.pixel import PixelSettings
from connector.config.salesforce import ObjectMapping, SalesforceSettings
from connector.config.scoring import Bands, Inactivity, Medals, Rule, Scoring, Strict
from connector.config.secrets import SECRET_PATHS
from connector.config.sync import OrgSource, SyncSettings, default_sources
from connector.errors import ConfigError

__all__ = [
    "Bands",
    "Inactivity",
    "Medals",
    "ObjectMapping",
    "OrgSource",
    "Rule",
    "SalesforceSettings",
    "Scoring",
    "Settings",
    "SyncSettings",
    "load_settings",
]


class Sources(Strict):
    """`[sources]`: `[[sources.salesforce]]` replaces the default org sources when given."""

    salesforce: tuple[OrgSource, ...] | None = None


class Settings(BaseSettings):
    """Everything the connector can be configured with."""

    model_config = SettingsConfigDict(
        env_prefix="MSR_ENGAGE_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    scoring: Scoring = Field(default_factory=Scoring)
    medals: Medals = Field(default_factory=Medals)
    salesforce: SalesforceSettings | None = None
    pixel: PixelSettings | None = None
    sync: SyncSettings = Field(default_factory=SyncSettings)
    sources: Sources = Field(default_factory=lambda: Sources())

    def org_sources(self, *, tracked: bool = False) -> tuple[OrgSource, ...]:
        """The configured org sources, or MSR's defaults for the configured object mapping.

        `tracked`: whether the org keeps history on the application step field (the shell asks the
        org, `shell/sources.org_sources`); it decides `step_history = "auto"`."""
        if self.sources.salesforce is not None:
            return self.sources.salesforce
        mapping = self.salesforce.objects if self.salesforce else ObjectMapping()
        history = self.sync.step_history
        return default_sources(mapping, step_history=tracked if history == "auto" else history)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML file's content arrives as init kwargs; the environment must override it.
        return (env_settings, init_settings, file_secret_settings)


def load_settings(path: Path | None) -> Settings:
    """Read `path` (TOML) plus environment overrides; raise `ConfigError` listing every problem."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read config file: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        except RecursionError:
            raise ConfigError(f"{path}: not valid TOML: nested too deeply") from None
        except ValueError as exc:  # an integer of more than 4300 digits
            raise ConfigError(f"{path}: not valid TOML: {str(exc).split(';')[0]}") from None
        problems = [*_secrets_in_file(data), *_odd_values(data)]
        if problems:
            raise ConfigError([f"{path}: {problem}" for problem in problems])
    empty = sorted(key for key, value in os.environ.items() if _is_setting(key) and not value.strip())
    if empty:
        raise ConfigError([f"{key} is set but empty: give it a value or unset it" for key in empty])
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError([_describe(err) for err in exc.errors()]) from None


_TOP = ("SCORING", "MEDALS", "SALESFORCE", "PIXEL", "SYNC", "SOURCES")
_MAX_DEPTH = 12  # no table of ours nests deeper; more is a mistake or an attack
_MAX_INT = 2**53  # beyond what any count, port, second or share of ours can mean


def _is_setting(name: str) -> bool:
    """Whether an environment variable is one of our settings (`MSR_ENGAGE_<TABLE>__...`)."""
    upper = name.upper()
    return upper.startswith("MSR_ENGAGE_") and upper[len("MSR_ENGAGE_") :].split("__", 1)[0] in _TOP


def _secrets_in_file(data: dict[str, Any]) -> list[str]:
    """Every secret present in config.toml, whether or not the environment sets it too."""
    found = []
    for keys, env in SECRET_PATHS:
        node: Any = data
        for key in keys:
            node = node.get(key) if isinstance(node, dict) else None
        if node is not None:
            name = ".".join(keys)
            found.append(f"{name} is a secret and must not be in config.toml: remove it and set {env}")
    return found


def _odd_values(node: Any, where: str = "", depth: int = 0) -> list[str]:
    """Values no setting can mean: nesting past `_MAX_DEPTH`, huge integers, infinite or NaN floats."""
    if depth > _MAX_DEPTH:
        return [f"{where}: nested too deeply"]
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _odd_values(v, f"{where}.{k}" if where else k, depth + 1)]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _odd_values(v, f"{where}[{i}]", depth + 1)]
    if isinstance(node, int) and not isinstance(node, bool) and abs(node) > _MAX_INT:
        return [f"{where}: number too large"]
    if isinstance(node, float) and not math.isfinite(node):
        return [f"{where}: must be a finite number"]
    return []


def _describe(err: ErrorDetails) -> str:
    """One line per problem: the key path as an admin writes it, then what is wrong."""
    path = ""
    for part in err["loc"]:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    ctx = err.get("ctx", {})
    kind = err["type"]
    if kind == "greater_than":
        what = f"must be > {ctx['gt']}"
    elif kind == "less_than":
        what = f"must be < {ctx['lt']}"
    elif kind == "extra_forbidden":
        what = "unknown key"
    elif kind == "missing":
        what = "required key is missing"
    elif kind == "value_error":
        what = str(ctx.get("error", err["msg"]))
    else:
        what = err["msg"][:1].lower() + err["msg"][1:]
    return f"{path or '(top level)'}: {what}"
