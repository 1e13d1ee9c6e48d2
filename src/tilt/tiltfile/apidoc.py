"""Generate docs/tiltfile-api.md from the builtins' own docstrings.

Run ``python -m tilt.tiltfile.apidoc > docs/tiltfile-api.md``; a test fails when the
file and the code drift apart.
"""

from __future__ import annotations

import inspect
import sys

from tilt.tiltfile import _register_builtins
from tilt.tiltfile._context import BUILTINS, CONSTANTS, DOC_SECTIONS, Builtin

__all__ = ["render"]

FAMILY_TITLES = {
    "local": "Local resources, probes and links",
    "images": "Images and live_update",
    "delivery": "Image delivery (beyond Tilt)",
    "k8s": "Kubernetes",
    "compose": "Docker Compose",
    "data": "Files, data, commands and the os/sys modules",
    "config": "Config (arguments after --)",
    "settings": "Settings",
    "v1alpha1": "v1alpha1 API objects",
}


def _signature(b: Builtin) -> str:
    sig = inspect.signature(b.fn)
    params = list(sig.parameters.values())[1:]  # drop ctx
    parts = []
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            parts.append(f"*{p.name}")
        elif p.kind is p.VAR_KEYWORD:
            parts.append(f"**{p.name}")
        elif p.default is inspect.Parameter.empty:
            parts.append(p.name)
        else:
            parts.append(f"{p.name}={p.default!r}")
    return f"{b.name}({', '.join(parts)})"


def render() -> str:
    _register_builtins()
    out = [
        "# Tiltfile API",
        "",
        "Every builtin this tilt understands, with Tilt's names, arguments and defaults.",
        "Generated from the builtins' docstrings by `python -m tilt.tiltfile.apidoc`;",
        "do not edit by hand (a test compares this file with the code).",
        "",
        "Starlark here is Tilt's dialect: `load()`, `include()`, `load_dynamic()`, `struct`,",
        "lambdas, nested functions, recursion, `while`, `set`, top-level `if`/`for`, tab",
        "indentation and `__file__`. Tilt's Blob values are plain strings, so string",
        "methods work on them (Tilt wants `str(b)` first). `type()` still says `blob` for",
        "a non-empty text that `local`, `read_file`, `blob`, `helm`, `kustomize`,",
        "`filter_yaml`, `encode_yaml` or `encode_yaml_stream` gave during the load, as",
        "extensions expect (`type(x) == 'blob'`: YAML text, not a path); unlike Tilt, an",
        "equal string (`str(b)`, for one) says `blob` too, and an empty Blob says `string`.",
        "",
    ]
    for title, text in DOC_SECTIONS.items():
        out += [f"## {title}", "", text, ""]
    families: dict[str, list[Builtin]] = {}
    for b in BUILTINS.values():
        families.setdefault(b.family, []).append(b)
    for fam in sorted(
        families, key=lambda f: list(FAMILY_TITLES).index(f) if f in FAMILY_TITLES else 99
    ):
        out += [f"## {FAMILY_TITLES.get(fam, fam)}", ""]
        for b in sorted(families[fam], key=lambda b: b.name):
            out += [f"### `{b.name}`", "", "```python", _signature(b), "```", ""]
            doc = inspect.cleandoc(b.doc) if b.doc else "(undocumented)"
            out += [doc, ""]
    if CONSTANTS:
        out += ["## Constants", ""]
        for name in sorted(CONSTANTS):
            out += [f"- `{name}`: {CONSTANTS[name][1]}"]
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    sys.stdout.write(render())
