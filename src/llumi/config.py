"""Settings as frozen dataclasses, loaded from one YAML file per run plus ``key=value`` overrides.

Unknown keys and wrong types are rejected at load time with a message that names the key and lists
the valid ones.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from llumi.errors import ConfigError

T = TypeVar("T")


def _coerce(name: str, value: Any, typ: Any) -> Any:
    origin = typing.get_origin(typ)
    args = typing.get_args(typ)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(name, value, a)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{name}: invalid value {value!r}")
    if origin in (tuple, list):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{name}: expected a list, got {value!r}")
        inner = args[0] if args else Any
        return tuple(_coerce(name, v, inner) for v in value)
    if origin is dict or typ is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{name}: expected a mapping, got {value!r}")
        return dict(value)
    if typ is Any:
        return value
    if typ is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "on", "false", "no", "0", "off"):
            return value.lower() in ("true", "yes", "1", "on")
        raise ConfigError(f"{name}: expected true or false, got {value!r}")
    if typ is int:
        if isinstance(value, bool):
            raise ConfigError(f"{name}: expected an integer, got {value!r}")
        try:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{name}: expected an integer, got {value!r}") from None
    if typ is float:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{name}: expected a number, got {value!r}") from None
    if typ is str:
        if not isinstance(value, (str, int, float)):
            raise ConfigError(f"{name}: expected text, got {value!r}")
        return str(value)
    return value


def from_dict(cls: type[T], data: dict[str, Any], where: str = "") -> T:
    """Build the dataclass ``cls`` from a mapping, validating every key and value."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"{where}unknown setting(s) {', '.join(unknown)}; valid settings are: {', '.join(sorted(fields))}"
        )
    kwargs = {k: _coerce(f"{where}{k}", v, hints[k]) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where}{e}") from None


def parse_overrides(pairs: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``["min_score=2", "splits=0.8,0.1,0.1"]`` -> a mapping (values parsed as YAML scalars)."""
    out: dict[str, Any] = {}
    for item in pairs:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not key=value")
        key, value = item.split("=", 1)
        out[key.strip()] = yaml.safe_load(value) if value.strip() else ""
    return out


def load(cls: type[T], path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> T:
    """Load ``cls`` from a YAML file (optional) and then apply overrides (CLI options win)."""
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.exists():
            raise ConfigError(f"config file {p} not found")
        try:
            loaded = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{p}: not valid YAML: {e}") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{p}: expected a mapping of settings at the top level")
        data.update(loaded)
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return from_dict(cls, data, where=f"{path}: " if path else "")


def to_dict(obj: Any) -> dict[str, Any]:
    """A dataclass as plain JSON-able data (tuples become lists)."""
    return json_safe(dataclasses.asdict(obj))


def json_safe(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    return x
