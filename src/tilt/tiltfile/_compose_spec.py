"""The Compose specification, resolved in-process: what Compose does before it runs anything.

Pure functions over YAML text and a variable lookup (no Tiltfile state, no
Docker): the ``docker_compose`` builtins (`tilt.tiltfile._compose`) read the
files and record what was read; this module turns the texts into one model.

- ``.env`` files (`parse_env_file`), with the shell environment taking
  precedence over them (the caller's ``lookup``);
- ``${VAR}``, ``$VAR``, ``${VAR:-default}``, ``${VAR-default}``,
  ``${VAR:?error}``, ``${VAR?error}``, ``${VAR:+alt}``, ``${VAR+alt}`` and ``$$``
  in every string value of every file, before the files are merged
  (`interpolate`);
- service ``extends`` (same file or ``file:``);
- merging several files as Compose merges them (`merge_compose`): mappings
  merge key by key, ``command``/``entrypoint`` are replaced,
  ``environment``/``labels``/build ``args`` merge by name, ``volumes`` by
  container path, other lists (``ports``...) append; ``!reset`` and
  ``!override`` are honoured;
- implicit dependencies (``links``, ``network_mode: service:x``,
  ``volumes_from``), published ports, project names;
- YAML 1.2 scalars, as Compose's parser reads them (``8080:80`` is a string,
  not the YAML 1.1 base-60 integer PyYAML would make of it).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ComposeError",
    "interpolate",
    "load_model",
    "merge_compose",
    "normalize_project_name",
    "parse_env_file",
    "published_ports",
    "service_dependencies",
    "service_env_files",
    "service_optional_dependencies",
]


# --- interpolation ----------------------------------------------------------------------


class ComposeError(Exception):
    """A problem in compose files; the builtin turns it into a TiltfileError."""


_NAME_RE = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")
# The operators of a braced substitution, longest first.
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")


def _closing_brace(s: str, start: int) -> int:
    """Index of the ``}`` closing the ``${`` whose body starts at ``start``; nested ok."""
    depth = 1
    i = start
    while i < len(s):
        c = s[i]
        if c == "$" and i + 1 < len(s) and s[i + 1] == "{":
            depth += 1
            i += 2
            continue
        if c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def interpolate(
    s: str, lookup: Callable[[str], str | None], on_unset: Callable[[str], None]
) -> str:
    """Substitute variables in ``s`` as Compose does.

    Args:
        s: the text.
        lookup: a variable's value, or None when it is not set.
        on_unset: called with the name of a variable that is used without a
            default and is not set (Compose warns and substitutes "").

    Returns:
        The text with every substitution made and ``$$`` turned into ``$``.

    Raises:
        ComposeError: an invalid template, or a ``${VAR:?err}`` whose VAR is missing.
    """
    if "$" not in s:
        return s
    out: list[str] = []
    i = 0
    n = len(s)
    while i < n:
        c = s[i]
        if c != "$":
            j = s.find("$", i)
            j = n if j < 0 else j
            out.append(s[i:j])
            i = j
            continue
        nxt = s[i + 1] if i + 1 < n else ""
        if nxt == "$":
            out.append("$")
            i += 2
            continue
        m = _NAME_RE.match(s, i + 1)
        if m:
            value = lookup(m.group(0))
            if value is None:
                on_unset(m.group(0))
                value = ""
            out.append(value)
            i = m.end()
            continue
        if nxt == "{":
            end = _closing_brace(s, i + 2)
            if end < 0:
                raise ComposeError(f"Invalid template: {s!r}")
            out.append(_braced(s[i + 2 : end], s, lookup, on_unset))
            i = end + 1
            continue
        raise ComposeError(f"Invalid template: {s!r}")
    return "".join(out)


def _braced(
    body: str,
    whole: str,
    lookup: Callable[[str], str | None],
    on_unset: Callable[[str], None],
) -> str:
    m = _NAME_RE.match(body)
    if not m:
        raise ComposeError(f"Invalid template: {whole!r}")
    name = m.group(0)
    rest = body[m.end() :]
    value = lookup(name)
    if not rest:
        if value is None:
            on_unset(name)
            return ""
        return value
    op = next((o for o in _OPERATORS if rest.startswith(o)), None)
    if op is None:
        raise ComposeError(f"Invalid template: {whole!r}")
    arg = rest[len(op) :]
    empty_counts = op.startswith(":")
    missing = value is None or (empty_counts and value == "")
    kind = op[-1]
    if kind == "-":
        return interpolate(arg, lookup, on_unset) if missing else str(value)
    if kind == "+":
        return "" if missing else interpolate(arg, lookup, on_unset)
    # "?": a required variable
    if missing:
        detail = interpolate(arg, lookup, on_unset)
        msg = f"required variable {name} is missing a value"
        raise ComposeError(f"{msg}: {detail}" if detail else msg)
    return str(value)


def _interpolate_tree(
    value: Any, lookup: Callable[[str], str | None], on_unset: Callable[[str], None]
) -> Any:
    """Interpolate every string value (not mapping keys) of a parsed YAML tree."""
    if isinstance(value, str):
        return interpolate(value, lookup, on_unset)
    if isinstance(value, dict):
        return {k: _interpolate_tree(v, lookup, on_unset) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate_tree(v, lookup, on_unset) for v in value]
    if isinstance(value, _Override):
        return _Override(_interpolate_tree(value.value, lookup, on_unset))
    return value


# --- .env files -------------------------------------------------------------------------

_ENV_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def parse_env_file(
    text: str, lookup: Callable[[str], str | None], name: str = ".env"
) -> dict[str, str]:
    """Parse a ``.env`` file as Compose does.

    ``KEY=value`` (or ``KEY: value``) lines, optionally after ``export``; ``#``
    comments; ``'single'`` quotes are literal, ``"double"`` quotes understand
    ``\\n``-style escapes; both may span lines. Unquoted and double-quoted values
    are interpolated (the environment first, then keys defined above). A bare
    ``KEY`` takes its value from the environment when it is set there.

    Args:
        text: the file's content.
        lookup: the process environment.
        name: how the file is named in errors.

    Returns:
        The variables, in file order.

    Raises:
        ComposeError: a line that is not an assignment, or an unterminated quote.
    """
    values: dict[str, str] = {}

    def env_lookup(key: str) -> str | None:
        got = lookup(key)
        return got if got is not None else values.get(key)

    def ignore(_: str) -> None:
        return None

    i = 0
    n = len(text)
    line = 1
    while i < n:
        # Skip blank space and comment lines.
        if text[i] in " \t\r":
            i += 1
            continue
        if text[i] == "\n":
            line += 1
            i += 1
            continue
        if text[i] == "#":
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if text.startswith("export ", i) or text.startswith("export\t", i):
            i += len("export ")
            while i < n and text[i] in " \t":
                i += 1
        m = _ENV_KEY_RE.match(text, i)
        if not m:
            bad = text[i:].split("\n", 1)[0]
            raise ComposeError(f"{name}:{line}: invalid line {bad!r} (want KEY=VALUE)")
        key = m.group(0)
        i = m.end()
        while i < n and text[i] in " \t":
            i += 1
        if i >= n or text[i] in "\r\n#":
            # A bare KEY: inherit it from the environment, if set there.
            inherited = lookup(key)
            if inherited is not None:
                values[key] = inherited
            continue
        if text[i] not in "=:":
            bad = text[m.start() :].split("\n", 1)[0]
            raise ComposeError(f"{name}:{line}: invalid line {bad!r} (want KEY=VALUE)")
        i += 1
        while i < n and text[i] in " \t":
            i += 1
        start_line = line
        if i < n and text[i] in "'\"":
            quote = text[i]
            j = i + 1
            chars: list[str] = []
            while j < n and text[j] != quote:
                if quote == '"' and text[j] == "\\" and j + 1 < n:
                    esc = text[j + 1]
                    # "\$" stays a literal "$": "$$" survives interpolation as one.
                    chars.append("$$" if esc == "$" else _ESCAPES.get(esc, "\\" + esc))
                    j += 2
                    continue
                if text[j] == "\n":
                    line += 1
                chars.append(text[j])
                j += 1
            if j >= n:
                raise ComposeError(f"{name}:{start_line}: unterminated quoted value for {key}")
            raw = "".join(chars)
            if quote == '"':
                raw = interpolate(raw, env_lookup, ignore)
            values[key] = raw
            i = j + 1
            # Ignore the rest of the line (a trailing comment).
            k = text.find("\n", i)
            i = n if k < 0 else k
            continue
        k = text.find("\n", i)
        k = n if k < 0 else k
        raw = text[i:k]
        # An unquoted value ends at an inline comment (" #").
        cut = re.search(r"\s#", raw)
        if cut:
            raw = raw[: cut.start()]
        values[key] = interpolate(raw.strip(), env_lookup, ignore)
        i = k
    return values


# --- YAML -------------------------------------------------------------------------------


class _Reset:
    """``!reset``: drop the value this file would merge into."""

    def __repr__(self) -> str:
        return "!reset"


_RESET = _Reset()


@dataclass(frozen=True)
class _Override:
    """``!override``: replace the value instead of merging into it."""

    value: Any


@functools.cache
def _yaml_loader() -> type[Any]:
    """The C safe loader, with YAML 1.2 core scalars and Compose's ``!reset``/``!override``.

    Compose parses with a YAML 1.2 parser: ``8080:80`` is a string there, while
    YAML 1.1 (PyYAML's default) would read it as a base-60 integer, and ``yes``
    or ``on`` stay strings.
    """
    import yaml

    class ComposeLoader(yaml.CSafeLoader):
        pass

    dropped = {"tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool"}
    ComposeLoader.yaml_implicit_resolvers = {
        ch: [(tag, rx) for tag, rx in resolvers if tag not in dropped]
        for ch, resolvers in yaml.CSafeLoader.yaml_implicit_resolvers.items()
    }
    ComposeLoader.add_implicit_resolver(
        "tag:yaml.org,2002:bool",
        re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
        list("tTfF"),
    )
    ComposeLoader.add_implicit_resolver(
        "tag:yaml.org,2002:int",
        re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
        list("-+0123456789"),
    )
    ComposeLoader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(
            r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
        ),
        list("-+0123456789."),
    )

    def construct_int(loader: Any, node: Any) -> int:
        text = str(loader.construct_scalar(node))
        if text.startswith("0o"):
            return int(text[2:], 8)
        if text.startswith("0x"):
            return int(text[2:], 16)
        return int(text, 10)

    def construct_reset(loader: Any, node: Any) -> _Reset:
        return _RESET

    def construct_override(loader: Any, node: Any) -> _Override:
        if isinstance(node, yaml.MappingNode):
            return _Override(loader.construct_mapping(node, deep=True))
        if isinstance(node, yaml.SequenceNode):
            return _Override(loader.construct_sequence(node, deep=True))
        return _Override(loader.construct_scalar(node))

    ComposeLoader.add_constructor("tag:yaml.org,2002:int", construct_int)
    ComposeLoader.add_constructor("!reset", construct_reset)
    ComposeLoader.add_constructor("!override", construct_override)
    return ComposeLoader


def _load_yaml(text: str, name: str) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.load(text, Loader=_yaml_loader())  # a safe loader (CSafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{name}:{mark.line + 1}" if mark is not None else name
        problem = e.problem or e.context or "invalid YAML"
        raise ComposeError(f"invalid YAML in {where}: {problem}") from None
    except yaml.YAMLError as e:
        raise ComposeError(f"invalid YAML in {name}: {e}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ComposeError(f"{name}: top-level object must be a mapping")
    return data


# --- normalizing and merging --------------------------------------------------------------

# Values a later file replaces outright instead of merging.
_REPLACED = frozenset({"command", "entrypoint"})


def _kv_list_to_map(items: list[Any]) -> dict[str, Any]:
    """``["K=V", "FLAG"]`` -> ``{"K": "V", "FLAG": None}`` (Compose merges these by name)."""
    out: dict[str, Any] = {}
    for item in items:
        text = str(item)
        if "=" in text:
            k, v = text.split("=", 1)
            out[k] = v
        else:
            out[text] = None
    return out


def _normalize_service(svc: dict[str, Any]) -> dict[str, Any]:
    """Bring a service to the canonical forms merging works on."""
    svc = dict(svc)
    build = svc.get("build")
    if isinstance(build, str):
        svc["build"] = {"context": build}
    if isinstance(svc.get("build"), dict) and isinstance(svc["build"].get("args"), list):
        svc["build"] = {**svc["build"], "args": _kv_list_to_map(svc["build"]["args"])}
    for key in ("environment", "labels", "annotations", "sysctls"):
        if isinstance(svc.get(key), list):
            svc[key] = _kv_list_to_map(svc[key])
    deps = svc.get("depends_on")
    if isinstance(deps, list):
        svc["depends_on"] = {
            str(d): {"condition": "service_started", "required": True} for d in deps
        }
    nets = svc.get("networks")
    if isinstance(nets, list):
        svc["networks"] = {str(n): None for n in nets}
    for key in ("env_file", "ports", "dns", "dns_search", "tmpfs", "expose"):
        if isinstance(svc.get(key), str | int):
            svc[key] = [svc[key]]
    return svc


def _volume_target(v: Any) -> Any:
    if isinstance(v, dict):
        return v.get("target", repr(sorted(v.items(), key=str)))
    parts = str(v).split(":")
    return parts[1] if len(parts) > 1 else parts[0]


def _merge(base: Any, over: Any, path: tuple[str, ...]) -> Any:
    """Merge ``over`` (a later file) into ``base`` with Compose's rules."""
    if isinstance(over, _Reset):
        return _RESET
    if isinstance(over, _Override):
        return _strip_tags(over.value)
    if base is None or isinstance(base, _Reset):
        return _strip_tags(over)
    leaf = path[-1] if path else ""
    in_service = len(path) >= 3 and path[0] == "services"
    if in_service and (
        (len(path) == 3 and leaf in _REPLACED) or path[2:] == ("healthcheck", "test")
    ):
        return _strip_tags(over)
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            merged = _merge(out.get(k), v, (*path, str(k)))
            if isinstance(merged, _Reset):
                out.pop(k, None)
            else:
                out[k] = merged
        return out
    if isinstance(base, list) and isinstance(over, list):
        over = [_strip_tags(v) for v in over]
        if in_service and len(path) == 3 and leaf == "volumes":
            by_target = {_volume_target(v): v for v in base}
            for v in over:
                by_target[_volume_target(v)] = v
            return list(by_target.values())
        out_list = list(base)
        for v in over:
            if v not in out_list:
                out_list.append(v)
        return out_list
    return _strip_tags(over)


def _strip_tags(value: Any) -> Any:
    """Resolve ``!reset``/``!override`` left in a value nothing was merged into."""
    if isinstance(value, _Override):
        return _strip_tags(value.value)
    if isinstance(value, dict):
        return {k: _strip_tags(v) for k, v in value.items() if not isinstance(v, _Reset)}
    if isinstance(value, list):
        return [_strip_tags(v) for v in value if not isinstance(v, _Reset)]
    return value


def merge_compose(files: list[dict[str, Any]]) -> dict[str, Any]:
    """Merge parsed (and interpolated) compose files, later files overriding earlier ones.

    Args:
        files: top-level mappings, in the order the files were given.

    Returns:
        One compose model; services keep the order they first appear in.
    """
    merged: dict[str, Any] = {}
    for raw in files:
        data = dict(raw)
        services = data.get("services")
        if isinstance(services, dict):
            data["services"] = {
                name: _normalize_service(svc) if isinstance(svc, dict) else svc
                for name, svc in services.items()
            }
        merged = _merge(merged, data, ())
    return _strip_tags(merged)  # type: ignore[no-any-return]


# --- ports, names, dependencies -----------------------------------------------------------


def _port_range(text: str) -> list[int] | None:
    """``"8000"`` -> [8000]; ``"8000-8002"`` -> [8000, 8001, 8002]; junk -> None."""
    lo, sep, hi = text.partition("-")
    if not lo.isdigit() or (sep and not hi.isdigit()):
        return None
    if not sep:
        return [int(lo)]
    a, b = int(lo), int(hi)
    return list(range(a, b + 1)) if a <= b else None


def published_ports(ports: Iterable[Any]) -> list[int]:
    """The host ports a service's ``ports:`` publish, in order (Tilt's links use them).

    Short syntax (``"8000:80"``, ``"127.0.0.1:8000:80/tcp"``, ``"[::1]:8000:80"``,
    ``"8000-8001:80-81"``) and long syntax (``{published: 8000, target: 80}``).
    A container port alone publishes an ephemeral host port, which has no fixed
    number; a host range onto a single container port is skipped, as Tilt does.
    """
    out: list[int] = []
    for spec in ports:
        if isinstance(spec, dict):
            pub = spec.get("published")
            if isinstance(pub, int) and not isinstance(pub, bool):
                if pub:
                    out.append(pub)
            elif isinstance(pub, str):
                rng = _port_range(pub)
                if rng and len(rng) == 1 and rng[0]:
                    out.append(rng[0])
            continue
        if not isinstance(spec, str):
            continue  # a bare int is a container port
        text = spec.split("/", 1)[0]
        if text.startswith("["):
            # [ipv6]:host:container
            close = text.find("]")
            text = text[close + 2 :] if close >= 0 else text
        parts = text.split(":")
        if len(parts) == 3:
            parts = parts[1:]
        if len(parts) != 2 or not parts[0]:
            continue
        host, container = _port_range(parts[0]), _port_range(parts[1])
        if host is None or container is None:
            continue
        if len(host) == 1 or len(host) == len(container):
            out.extend(p for p in host if p)
    return out


_PROJECT_CHARS_RE = re.compile(r"[^a-z0-9_-]")


def normalize_project_name(name: str) -> str:
    """A folder name made into a Compose project name (lowercase ``[a-z0-9_-]``)."""
    return _PROJECT_CHARS_RE.sub("", name.lower()).lstrip("_-")


def service_dependencies(svc: dict[str, Any]) -> list[str]:
    """Services this one depends on: ``depends_on`` plus Compose's implicit ones."""
    deps: list[str] = []
    deps.extend(str(name) for name in svc.get("depends_on") or {})
    for link in svc.get("links") or []:
        deps.append(str(link).split(":", 1)[0])
    mode = svc.get("network_mode")
    if isinstance(mode, str) and mode.startswith("service:"):
        deps.append(mode[len("service:") :])
    for vf in svc.get("volumes_from") or []:
        text = str(vf)
        if not text.startswith("container:"):
            deps.append(text.split(":", 1)[0])
    return list(dict.fromkeys(deps))


def service_optional_dependencies(svc: dict[str, Any]) -> set[str]:
    out = set()
    for name, spec in (svc.get("depends_on") or {}).items():
        if isinstance(spec, dict) and spec.get("required") is False:
            out.add(str(name))
    return out


def service_env_files(svc: dict[str, Any]) -> list[tuple[str, bool]]:
    raw = svc.get("env_file")
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else [raw]
    out: list[tuple[str, bool]] = []
    for item in items:
        if isinstance(item, dict):
            out.append((str(item.get("path", "")), item.get("required", True) is not False))
        else:
            out.append((str(item), True))
    return out


def _apply_extends(
    services: dict[str, Any],
    name: str,
    project_dir: str,
    lookup: Callable[[str], str | None],
    on_unset: Callable[[str], None],
) -> dict[str, Any]:
    """Resolve ``extends`` (same file or ``file:``) within one file, as Compose does."""
    resolved: dict[str, Any] = {}

    def resolve(svc_name: str, pool: dict[str, Any], where: str, seen: tuple[str, ...]) -> Any:
        svc = pool.get(svc_name)
        if not isinstance(svc, dict) or "extends" not in svc:
            return svc
        key = f"{where}:{svc_name}"
        if key in seen:
            chain = " -> ".join((*seen, key))
            raise ComposeError(f"{name}: extends cycle: {chain}")
        ext = svc["extends"]
        if isinstance(ext, str):
            ext = {"service": ext}
        if not isinstance(ext, dict) or not isinstance(ext.get("service"), str):
            raise ComposeError(f"{name}: service {svc_name!r}: extends needs a service name")
        base_pool, base_where = pool, where
        if ext.get("file"):
            path = os.path.normpath(os.path.join(project_dir, str(ext["file"])))
            try:
                with open(path, encoding="utf-8") as f:
                    other = _load_yaml(f.read(), str(ext["file"]))
            except OSError as e:
                raise ComposeError(
                    f"{name}: service {svc_name!r} extends a file that cannot be read: "
                    f"{ext['file']} ({e.strerror or e})"
                ) from None
            other = _interpolate_tree(other, lookup, on_unset)
            base_pool = other.get("services") or {}
            base_where = path
        base_name = ext["service"]
        if base_name not in base_pool:
            raise ComposeError(
                f"{name}: service {svc_name!r} extends unknown service {base_name!r}"
            )
        base = resolve(base_name, base_pool, base_where, (*seen, key))
        own = {k: v for k, v in svc.items() if k != "extends"}
        base = {k: v for k, v in _normalize_service(base).items() if k != "depends_on"}
        merged = _merge(base, _normalize_service(own), ("services", svc_name))
        return merged

    for svc_name in services:
        resolved[svc_name] = resolve(svc_name, services, "", ())
    return resolved


def load_model(
    files: list[tuple[str, str]],
    project_dir: str,
    lookup: Callable[[str], str | None],
    on_unset: Callable[[str], None],
) -> dict[str, Any]:
    """Parse, interpolate, resolve ``extends`` in and merge a project's files.

    Args:
        files: ``(name shown in messages, YAML text)`` per file, in order.
        project_dir: Where relative paths (``extends: file:``) resolve.
        lookup: A variable's value (None: unset).
        on_unset: Called with each unset variable a value refers to.

    Raises:
        ComposeError: naming the file and what is wrong.
    """
    parsed: list[dict[str, Any]] = []
    for name, text in files:
        data = _load_yaml(text, name)
        try:
            data = _interpolate_tree(data, lookup, on_unset)
        except ComposeError as e:
            raise ComposeError(f"{name}: {e}") from None
        if "include" in data:
            raise ComposeError(f"{name}: top-level 'include' is not supported yet")
        services = data.get("services")
        if services is not None and not isinstance(services, dict):
            raise ComposeError(f"{name}: services must be a mapping")
        if isinstance(services, dict):
            data["services"] = _apply_extends(services, name, project_dir, lookup, on_unset)
        parsed.append(data)
    return merge_compose(parsed)
