"""Building the config dataclasses from plain JSON data, with one-line errors."""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, Literal

from rlhp.errors import ConfigError


def check(condition: bool, message: str) -> None:
    """Raise ``ConfigError(message)`` unless ``condition``."""
    if not condition:
        raise ConfigError(message)


def jsonable(value: Any) -> Any:
    """``value`` with infinities as the strings JSON can hold."""
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def build(cls: Any, data: Any, where: str) -> Any:
    """Build dataclass ``cls`` from plain JSON data, checking keys and types."""
    if not isinstance(data, dict):
        raise ConfigError(f"config section {where or 'root'} must be an object")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    check(not unknown, f"unknown config key(s) {sorted(unknown)} in {where or 'root'}")
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = coerce(hints[name], value, f"{where}{name}")
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"config section {where or 'root'}: {exc}") from exc


def coerce(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return build(hint, value, where + ".")
    if origin is Literal:
        check(value in typing.get_args(hint), f"{where} must be one of {typing.get_args(hint)}")
        return value
    if origin in (types.UnionType, typing.Union):
        if value is None:
            return None
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return coerce(inner[0], value, where)
    if origin is tuple:
        check(isinstance(value, (list, tuple)), f"{where} must be a list")
        args = typing.get_args(hint)
        item = args[0]
        return tuple(coerce(item, v, where) for v in value)
    if origin is dict or hint is dict:
        check(isinstance(value, dict), f"{where} must be an object")
        return dict(value)
    if hint is float:
        if isinstance(value, str) and value in ("inf", "-inf"):
            return float(value)
        check(
            isinstance(value, (int, float)) and not isinstance(value, bool),
            f"{where} must be a number",
        )
        return float(value)
    if hint is int:
        check(isinstance(value, int) and not isinstance(value, bool), f"{where} must be an integer")
        return value
    if hint is bool:
        check(isinstance(value, bool), f"{where} must be true or false")
        return value
    if hint is str:
        check(isinstance(value, str), f"{where} must be text")
        return value
    return value
