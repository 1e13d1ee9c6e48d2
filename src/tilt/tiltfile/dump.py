"""The resolved graph as JSON: what `tilt dump tiltfile` prints (docs/tiltfile-json.md)."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from tilt.model import K8sObject, TiltfileResult

__all__ = ["to_json", "to_jsonable"]

_FIELDS: dict[type, tuple[str, ...]] = {}


def _dump_fields(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = tuple(f.name for f in dataclasses.fields(cls) if f.metadata.get("dump", True))
        _FIELDS[cls] = names
    return names


def to_jsonable(value: Any) -> Any:
    """Dataclasses become objects (fields with ``dump=False`` metadata left out)."""
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, K8sObject):
        return {
            "ref": value.ref,
            "api_version": value.api_version,
            "kind": value.kind,
            "name": value.name,
            "namespace": value.namespace,
        }
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: to_jsonable(getattr(value, name)) for name in _dump_fields(type(value))}
    return value


def to_json(result: TiltfileResult) -> str:
    """Indented JSON. orjson: the stdlib's indenting encoder is pure Python and ~30x slower."""
    import orjson

    return orjson.dumps(to_jsonable(result), option=orjson.OPT_INDENT_2).decode()
