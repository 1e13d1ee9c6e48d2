"""The resolved graph as JSON: what `tilt dump tiltfile` prints (docs/tiltfile-json.md)."""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Any

from tilt.model import K8sObject, TiltfileResult

__all__ = ["to_json", "to_jsonable"]


def to_jsonable(value: Any) -> Any:
    """Dataclasses become objects (fields with ``dump=False`` metadata left out)."""
    if isinstance(value, K8sObject):
        return {
            "ref": value.ref,
            "api_version": value.api_version,
            "kind": value.kind,
            "name": value.name,
            "namespace": value.namespace,
        }
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {}
        for f in dataclasses.fields(value):
            if f.metadata.get("dump", True):
                out[f.name] = to_jsonable(getattr(value, f.name))
        return out
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


def to_json(result: TiltfileResult) -> str:
    return json.dumps(to_jsonable(result), indent=2, ensure_ascii=False)
