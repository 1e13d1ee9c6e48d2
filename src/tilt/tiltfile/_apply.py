"""``tilt apply -f FILE`` from a Tiltfile's ``local()``: API objects that join the graph.

Some extensions (Tilt's own ``uibutton`` among them) do not call ``v1alpha1.*`` builtins:
they build the objects as dicts and pipe ``encode_yaml_stream([...])`` into
``tilt apply -f -`` through ``local()``, i.e. into Tilt's API server. This tilt has no
API server for objects, so during a load every ``local()`` command gets
``$TILT_APPLY_SPOOL``: a file where ``tilt apply`` appends the objects it validated. When
the Tiltfile has run, the loader adds them to the graph (a Tiltfile's own ``v1alpha1.*``
object of the same kind and name wins, as the Tiltfile's objects are applied after the
load in Tilt).
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any

from tilt.model import ApiObject

__all__ = [
    "SPOOL_ENV",
    "ApplyError",
    "parse_objects",
    "read_spool",
    "remove_spool",
    "write_spool",
]

SPOOL_ENV = "TILT_APPLY_SPOOL"
API_VERSION = "tilt.dev/v1alpha1"
KINDS = ("Cmd", "ConfigMap", "Extension", "ExtensionRepo", "FileWatch", "UIButton")


class ApplyError(Exception):
    """An object ``tilt apply`` refuses; the message says which and why."""


def parse_objects(text: str) -> list[ApiObject]:
    """The API objects in a YAML (or JSON) stream, checked as Tilt's API server would.

    Raises:
        ApplyError: not YAML, not a tilt.dev/v1alpha1 object this tilt keeps, no name.
    """
    import yaml

    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as e:
        raise ApplyError(f"error parsing YAML: {e}") from None
    out = []
    for i, doc in enumerate(docs):
        if isinstance(doc, dict) and doc.get("kind", "").endswith("List") and "items" in doc:
            items = doc["items"] or []
        else:
            items = [doc]
        for item in items:
            out.append(_object(i, item))
    return out


def _object(index: int, doc: Any) -> ApiObject:
    if not isinstance(doc, dict):
        raise ApplyError(f"document {index}: not an object")
    kind = doc.get("kind")
    if doc.get("apiVersion") != API_VERSION or kind not in KINDS:
        raise ApplyError(
            f"document {index}: {doc.get('apiVersion')}/{kind} is not an object this tilt "
            f"keeps (apiVersion {API_VERSION}, kind one of {', '.join(KINDS)})"
        )
    meta = doc.get("metadata") or {}
    name = meta.get("name") if isinstance(meta, dict) else None
    if not isinstance(name, str) or not name:
        raise ApplyError(f"document {index}: {kind}: metadata.name is required")

    def strings(key: str) -> dict[str, str]:
        value = meta.get(key) or {}
        if not isinstance(value, dict):
            raise ApplyError(f"{kind} {name}: metadata.{key} must be a map")
        return {str(k): "" if v is None else str(v) for k, v in value.items()}

    if kind == "ConfigMap":
        data = doc.get("data") or {}
        spec: Any = {"data": {str(k): str(v) for k, v in data.items()}}
    else:
        spec = doc.get("spec") or {}
    if not isinstance(spec, dict):
        raise ApplyError(f"{kind} {name}: spec must be a map")
    if kind == "UIButton":
        _check_button(name, spec)
    return ApiObject(
        kind=kind,
        name=name,
        labels=strings("labels"),
        annotations=strings("annotations"),
        spec=json.loads(json.dumps(spec, default=str)),  # plain JSON data (dates as text)
    )


def _check_button(name: str, spec: dict[str, Any]) -> None:
    # The checks of Tilt's UIButton.Validate that the TUI relies on.
    loc = spec.get("location") or {}
    if not spec.get("text"):
        raise ApplyError(f"UIButton {name}: spec.text: Required value: Button text cannot be empty")
    if not isinstance(loc, dict) or not loc.get("componentID") or not loc.get("componentType"):
        raise ApplyError(
            f"UIButton {name}: spec.location: Required value: componentID and componentType"
        )
    for inp in spec.get("inputs") or []:
        kinds = [k for k in ("text", "bool", "hidden", "choice") if k in (inp or {})]
        if len(kinds) != 1:
            raise ApplyError(f"UIButton {name}: input {inp!r}: must specify exactly one input type")
        if kinds == ["choice"] and not (inp["choice"] or {}).get("choices"):
            raise ApplyError(
                f"UIButton {name}: input {inp.get('name')!r}: must specify choices if input "
                "type is choice"
            )


def write_spool(path: str, objects: list[ApiObject]) -> None:
    """Append ``objects`` to the spool file of the running load (one JSON per line)."""
    with open(path, "a", encoding="utf-8") as f:
        for o in objects:
            f.write(
                json.dumps(
                    {
                        "kind": o.kind,
                        "name": o.name,
                        "labels": o.labels,
                        "annotations": o.annotations,
                        "spec": o.spec,
                    }
                )
                + "\n"
            )


def read_spool(path: str) -> list[ApiObject]:
    """The objects ``tilt apply`` spooled during a load, in order (a later one replaces)."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    out: dict[tuple[str, str], ApiObject] = {}
    for line in lines:
        if not line.strip():
            continue
        d = json.loads(line)
        obj = ApiObject(
            kind=d["kind"],
            name=d["name"],
            labels=d.get("labels") or {},
            annotations=d.get("annotations") or {},
            spec=d.get("spec") or {},
        )
        out[(obj.kind, obj.name)] = obj
    return list(out.values())


def remove_spool(path: str) -> None:
    """Remove the spool file of a finished load."""
    with contextlib.suppress(OSError):
        os.unlink(path)
