"""Tiltfile builtins: Docker Compose (``docker_compose``, ``dc_resource``).

Tilt asks the Compose library to resolve a project; we resolve it in-process
instead, so loading a Tiltfile needs neither Docker nor the compose CLI. What
that takes is what Compose does before it runs anything:

- the ``.env`` file of the project folder (or ``env_file=``), with the shell
  environment taking precedence over it;
- ``${VAR}``, ``$VAR``, ``${VAR:-default}``, ``${VAR-default}``,
  ``${VAR:?error}``, ``${VAR?error}``, ``${VAR:+alt}``, ``${VAR+alt}`` and ``$$``
  in every string value of every file, before the files are merged;
- merging several files as Compose merges them: mappings merge key by key,
  ``command``/``entrypoint`` are replaced, ``environment``/``labels``/build
  ``args`` merge by name, ``volumes`` by container path, other lists
  (``ports``...) append; ``!reset`` and ``!override`` are honoured;
- service ``extends``, ``profiles`` (and ``COMPOSE_PROFILES`` when the Tiltfile
  gives none), implicit dependencies (``links``, ``network_mode: service:x``,
  ``volumes_from``);
- YAML 1.2 scalars, as Compose's parser reads them (``8080:80`` is a string,
  not the YAML 1.1 base-60 integer PyYAML would make of it).

Each enabled service becomes one ``DOCKER_COMPOSE`` resource (see `finalize`).
"""

from __future__ import annotations

import copy
import functools
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tilt.model import (
    ComposeTarget,
    Link,
    Resource,
    ResourceKind,
    SourceLocation,
    TriggerMode,
    WatchSpec,
)
from tilt.tiltfile._context import (
    Ctx,
    LoadState,
    TiltfileError,
    as_bool,
    as_str,
    as_str_list,
    builtin,
)

if TYPE_CHECKING:
    from tilt.tiltfile._assemble import Assembly

__all__ = [
    "ComposeState",
    "finalize",
    "interpolate",
    "merge_compose",
    "normalize_project_name",
    "parse_env_file",
    "published_ports",
]


class _EmptyList(tuple[str, ...]):
    """An unset list argument. Reads as ``[]`` (Tilt's spelling) in the API doc,
    and can be told apart from an explicit ``[]`` (``profiles`` needs that)."""

    def __repr__(self) -> str:
        return "[]"


_UNSET: tuple[str, ...] = _EmptyList()


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


def _dependencies(svc: dict[str, Any]) -> list[str]:
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


def _optional_deps(svc: dict[str, Any]) -> set[str]:
    out = set()
    for name, spec in (svc.get("depends_on") or {}).items():
        if isinstance(spec, dict) and spec.get("required") is False:
            out.add(str(name))
    return out


# --- the resolved project ---------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class _Service:
    name: str
    config: dict[str, Any]
    image: str  # what Compose runs: ``image:`` or Compose's default for a built service
    build_context: str
    depends_on: tuple[str, ...]
    published_ports: tuple[int, ...]


@dataclass
class _Options:
    """What dc_resource set for one service."""

    resource_name: str
    trigger_mode: TriggerMode | None = None
    resource_deps: list[str] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    auto_init: bool = True
    infer_links: bool = True
    image: str = ""


@dataclass
class _Project:
    name: str
    project_dir: str
    location: SourceLocation
    config_files: list[str] = field(default_factory=list)
    # How each config file is named in messages (a blob has no file of its own).
    display: dict[str, str] = field(default_factory=dict)
    env_file: str = ""
    profiles: tuple[str, ...] = ()
    wait: bool = False
    services: dict[str, _Service] = field(default_factory=dict)
    options: dict[str, _Options] = field(default_factory=dict)

    def options_for(self, service: str) -> _Options:
        got = self.options.get(service)
        if got is None:
            got = _Options(resource_name=service)
            self.options[service] = got
        return got


class ComposeState:
    """Compose projects declared so far, by project name, in declaration order."""

    def __init__(self) -> None:
        self.projects: dict[str, _Project] = {}


def _blob_file(text: str) -> str:
    """Write inline compose YAML to a file (named by content) so Compose can be given it."""
    import hashlib
    import tempfile

    folder = os.path.join(tempfile.gettempdir(), "tilt-compose-blobs")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, hashlib.sha256(text.encode()).hexdigest()[:32] + ".yml")
    if not os.path.exists(path):
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    return path


_YAML_START = ("services:", "{", "version:", "name:")


def _is_blob(ctx: Ctx, v: object) -> bool:
    """Whether a configPaths item is compose YAML (Tilt's Blob) rather than a path.

    Blobs are plain strings here: a path never holds a newline, while YAML text
    (from local(), read_file() or encode_yaml()) nearly always does. A one-line
    string that names no file and reads like a compose mapping is YAML too.
    """
    if hasattr(v, "starlark_text"):
        return True
    if not isinstance(v, str):
        return False
    if "\n" in v:
        return True
    return v.lstrip().startswith(_YAML_START) and not os.path.exists(ctx.abspath(v))


def _resolve_project(ctx: Ctx, proj: _Project, texts: dict[str, str]) -> None:
    """Parse, interpolate, merge and resolve ``proj``'s files into its services."""
    from tilt.refs import parse_ref
    from tilt.tiltfile._loader import display_path

    state = ctx.state
    dotenv: dict[str, str] = {}
    env_path = proj.env_file or os.path.join(proj.project_dir, ".env")
    if proj.env_file or os.path.isfile(env_path):
        try:
            with open(env_path, encoding="utf-8") as f:
                env_text = f.read()
        except OSError as e:
            raise ComposeError(
                f"cannot read env file {display_path(env_path)}: {e.strerror or e}"
            ) from None
        state.record_read(env_path)
        dotenv = parse_env_file(env_text, state.env.get, display_path(env_path))

    def lookup(key: str) -> str | None:
        got = state.env.get(key)
        return got if got is not None else dotenv.get(key)

    warned: set[str] = set()

    def on_unset(key: str) -> None:
        if key not in warned:
            warned.add(key)
            state.warn(
                f'docker_compose: the "{key}" variable is not set. Defaulting to a blank string.',
                ctx.location,
            )

    parsed: list[dict[str, Any]] = []
    for path in proj.config_files:
        name = proj.display[path]
        data = _load_yaml(texts[path], name)
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
            data["services"] = _apply_extends(services, name, proj.project_dir, lookup, on_unset)
        parsed.append(data)
    model = merge_compose(parsed)
    services = model.get("services") or {}
    files = ", ".join(proj.display[p] for p in proj.config_files)
    if not services:
        raise ComposeError(f"no services defined in {files}")

    active = set(proj.profiles)
    enabled: dict[str, dict[str, Any]] = {}
    for name, svc in services.items():
        if not isinstance(svc, dict):
            raise ComposeError(f"{files}: service {name!r} must be a mapping")
        svc_profiles = svc.get("profiles") or []
        if svc_profiles and "*" not in active and not active.intersection(map(str, svc_profiles)):
            continue
        enabled[str(name)] = svc
    if not enabled:
        shown = ", ".join(sorted(active)) or "none"
        raise ComposeError(
            f"no services enabled in {files}: every service declares profiles "
            f"and none is active (active profiles: {shown})"
        )

    proj.services = {}
    for name, declared in enabled.items():
        svc = declared
        optional = _optional_deps(svc)
        deps: list[str] = []
        for dep in _dependencies(svc):
            if dep in enabled:
                deps.append(dep)
            elif dep not in optional:
                reason = " (it is disabled by its profiles)" if dep in services else ""
                raise ComposeError(f'service "{name}" depends on undefined service "{dep}"{reason}')
        build = svc.get("build")
        context = ""
        if isinstance(build, dict):
            ctx_dir = str(build.get("context") or ".")
            if "://" in ctx_dir or ctx_dir.startswith("git@"):
                context = ctx_dir
            else:
                context = os.path.normpath(
                    os.path.join(proj.project_dir, os.path.expanduser(ctx_dir))
                )
            svc = {**svc, "build": {**build, "context": context}}
        image = svc.get("image")
        if image is not None and not isinstance(image, str):
            raise ComposeError(f'service "{name}": image must be a string')
        if not image:
            if build is None:
                raise ComposeError(f'service "{name}" has neither an image nor a build context')
            # Compose's default name for the image it builds.
            image = f"{proj.name}-{name.lower()}"
        try:
            parse_ref(image)
        except ValueError as e:
            raise ComposeError(f'service "{name}": invalid image name {image!r}: {e}') from None
        for env_file in _service_env_files(svc):
            path, required = env_file
            full = os.path.normpath(os.path.join(proj.project_dir, os.path.expanduser(path)))
            if os.path.isfile(full):
                state.record_read(full)
            elif required:
                raise ComposeError(f'service "{name}": env file {display_path(full)} not found')
        ports = svc.get("ports") or []
        proj.services[name] = _Service(
            name=name,
            config=svc,
            image=image,
            build_context=context,
            depends_on=tuple(deps),
            published_ports=tuple(published_ports(ports if isinstance(ports, list) else [])),
        )
    # Options of services that went away (a re-declared project) no longer apply.
    proj.options = {k: v for k, v in proj.options.items() if k in proj.services}


def _service_env_files(svc: dict[str, Any]) -> list[tuple[str, bool]]:
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


# --- builtins ---------------------------------------------------------------------------


def _error(fn: str, e: ComposeError) -> TiltfileError:
    return TiltfileError(f"{fn}: {e}")


@builtin("docker_compose", located=True)
def docker_compose(  # noqa: PLR0917 - Tilt's positional parameters
    ctx: Ctx,
    configPaths: object,  # Tilt's parameter name
    env_file: object = None,
    project_name: object = "",
    profiles: object = _UNSET,
    wait: object = False,
) -> None:
    """Run services with Docker Compose: each service becomes a resource.

    Tilt reads the Compose files and makes one resource per service, named after
    the service. A service whose image matches a ``docker_build``/``custom_build``
    ref runs the image Tilt builds; a service with ``build:`` and no such match is
    built by Compose (its image is Compose's default name, ``PROJECT-SERVICE``).
    ``depends_on`` (and Compose's implicit dependencies: ``links``,
    ``network_mode: service:x``, ``volumes_from``) become ``resource_deps``;
    published ports become links (``http://localhost:PORT/``).

    Several files merge as Compose merges them (later files override; lists
    such as ``ports`` append). Variables (``${VAR}``, ``${VAR:-default}``,
    ``${VAR-default}``, ``$$``...) are substituted from the environment, then
    from the ``.env`` file next to the first Compose file (or ``env_file``).
    Calling ``docker_compose`` again with the same project name adds files to
    that project; another project name declares another project.

    Here the files are parsed in-process, so loading needs neither Docker nor the
    compose CLI. Not supported yet: a top-level ``include:`` (an error says so).

    Args:
        configPaths: a path to a Compose file, a Blob (a string holding YAML: one
            with a newline, or a one-line ``services: {...}`` that names no file),
            or a list of paths and/or Blobs. Relative paths are
            relative to the Tiltfile; paths inside the files are relative to the
            folder of the first file (the project folder).
        env_file: path to the env file used for variable substitution; defaults to
            ``.env`` in the project folder.
        project_name: the Compose project name. Default: the name of the folder of
            the first file (of the Tiltfile when only Blobs are given), normalized
            as Compose does (lowercase ``a-z``, ``0-9``, ``_``, ``-``).
        profiles: Compose profiles to enable (a string or a list). A service that
            declares ``profiles`` only runs when one of them is enabled. When not
            given, ``COMPOSE_PROFILES`` from the environment is used.
        wait: wait for services to be running/healthy when they start
            (``docker compose up --wait``).
    """
    fn = "docker_compose"
    from tilt.tiltfile._loader import display_path

    items: list[object]
    if configPaths is None:
        items = []
    elif isinstance(configPaths, list | tuple):
        items = [v for v in configPaths if v is not None]
    else:
        items = [configPaths]
    if not items:
        raise TiltfileError(f"{fn}: Nothing to compose")

    env_path = ""
    if env_file is not None:
        env_path = ctx.abspath(as_str(fn, "env_file", env_file))
    name = as_str(fn, "project_name", project_name)
    profiles_set = profiles is not _UNSET
    profile_list = as_str_list(fn, "profiles", profiles)
    wait_flag = as_bool(fn, "wait", wait)
    paths: list[str] = []
    display: dict[str, str] = {}
    texts: dict[str, str] = {}
    project_dir = ""
    first_path_dir = ""
    for i, item in enumerate(items):
        if _is_blob(ctx, item):
            text = as_str(fn, "configPaths", item)
            path = _blob_file(text)
            display[path] = f"<inline YAML #{i + 1}>"
            texts[path] = text
        else:
            if not isinstance(item, str):
                raise TiltfileError(
                    f"{fn}: configPaths: expected blob | path (string), got {type(item).__name__}"
                )
            path = ctx.abspath(item)
            display[path] = display_path(path)
            try:
                with open(path, encoding="utf-8") as f:
                    texts[path] = f.read()
            except FileNotFoundError:
                raise TiltfileError(f"{fn}: compose file not found: {display_path(path)}") from None
            except (OSError, UnicodeDecodeError) as e:
                raise TiltfileError(f"{fn}: cannot read {display_path(path)}: {e}") from None
            ctx.state.record_read(path)
            if not first_path_dir:
                first_path_dir = os.path.dirname(path)
        if path not in paths:
            paths.append(path)
    # The project folder is the first file's, as with the compose CLI.
    project_dir = first_path_dir or ctx.dir
    if not name:
        name = normalize_project_name(os.path.basename(project_dir))
    if not profiles_set and ctx.state.env.get("COMPOSE_PROFILES"):
        env_profiles = ctx.state.env["COMPOSE_PROFILES"]
        profile_list = [p for p in env_profiles.split(",") if p]
        ctx.state.log(f"Compose project {name!r} loading profiles from environment: {env_profiles}")
    if env_path:
        ctx.state.record_read(env_path)

    st = ctx.state.family(ComposeState)
    proj = st.projects.get(name)
    if proj is None:
        proj = _Project(
            name=name,
            project_dir=project_dir,
            location=ctx.here(),
            env_file=env_path,
            profiles=tuple(profile_list),
            wait=wait_flag,
        )
        new = True
    else:
        # Same project again: its files grow; the first call's settings stay (as in Tilt).
        if env_path:
            proj.env_file = env_path
        new = False
    for p in paths:
        if p not in proj.config_files:
            proj.config_files.append(p)
        proj.display.setdefault(p, display[p])
    all_texts = dict(texts)
    for p in proj.config_files:
        if p not in all_texts:
            with open(p, encoding="utf-8") as f:
                all_texts[p] = f.read()
    try:
        _resolve_project(ctx, proj, all_texts)
    except ComposeError as e:
        raise _error(fn, e) from None
    if new:
        st.projects[name] = proj


def _find_service(fn: str, st: ComposeState, name: str, project_name: str) -> tuple[_Project, str]:
    """The project and service behind the resource called ``name``."""
    from tilt.graph import closest

    found: list[tuple[_Project, str]] = []
    names: list[str] = []
    for proj in st.projects.values():
        if project_name and proj.name != project_name:
            continue
        for svc in proj.services:
            res_name = proj.options[svc].resource_name if svc in proj.options else svc
            names.append(res_name)
            if res_name == name:
                found.append((proj, svc))
    if len(found) > 1:
        raise TiltfileError(
            f"{fn}: found multiple resources named {name!r}, "
            "please specify which one with project_name= argument"
        )
    if found:
        return found[0]
    if project_name and project_name not in st.projects:
        known = ", ".join(st.projects) or "none; call docker_compose() first"
        raise TiltfileError(
            f"{fn}: no Docker Compose project named {project_name!r} (projects: {known})"
        )
    if not names:
        raise TiltfileError(
            f"{fn}: no Docker Compose service found with name {name!r}: "
            "call docker_compose() before dc_resource()"
        )
    renamed_to = [
        proj.options[name].resource_name
        for proj in st.projects.values()
        if name in proj.options and (not project_name or proj.name == project_name)
    ]
    hint = renamed_to[0] if renamed_to else closest(name, names)
    suggestion = f' Did you mean "{hint}"?' if hint else ""
    if renamed_to:
        suggestion += " (an earlier dc_resource renamed it with new_name=)"
    raise TiltfileError(
        f'{fn}: no Docker Compose service found with name "{name}".{suggestion} '
        f"Found these instead: {'; '.join(names)}"
    )


@builtin("dc_resource", located=True)
def dc_resource(  # noqa: PLR0917 - Tilt's positional parameters
    ctx: Ctx,
    name: object,
    trigger_mode: object = None,
    resource_deps: object = _UNSET,
    links: object = _UNSET,
    labels: object = _UNSET,
    auto_init: object = True,
    project_name: object = "",
    new_name: object = "",
    infer_links: object = True,
    image: object = None,
) -> None:
    """Configure the resource of a Docker Compose service.

    Tilt already makes a resource of every service ``docker_compose`` declares;
    call this only to change one. It must come after the ``docker_compose`` call
    that declares the service. Calling it again for the same service adds its
    ``resource_deps``, ``links`` and ``labels`` to the earlier ones; a given
    ``trigger_mode`` replaces the earlier one, and ``auto_init`` and
    ``infer_links`` take the latest call's values.

    Args:
        name: the service's name in the Compose file (or the resource's name
            after an earlier ``new_name``).
        trigger_mode: ``TRIGGER_MODE_AUTO`` or ``TRIGGER_MODE_MANUAL``; when not
            given, the Tiltfile's default (see ``trigger_mode()``).
        resource_deps: names of resources that must be ready before this one
            starts; added to those ``depends_on`` implies.
        links: URLs (strings or ``link()`` values) shown with the resource.
        labels: labels that group resources in the UI (a string or a list).
        auto_init: whether the resource starts with ``tilt up``; if False it
            starts only when triggered.
        project_name: the Compose project of the service, when several projects
            have a service of that name.
        new_name: a new name for the resource (the Compose service keeps its
            name; other services' ``depends_on`` follow the rename).
        infer_links: whether published ports become links
            (``http://localhost:PORT/``).
        image: (undocumented in Tilt, kept for compatibility) the image ref to
            match against ``docker_build``/``custom_build``, instead of the
            service's ``image:``.
    """
    fn = "dc_resource"
    res_name = as_str(fn, "name", name)
    if not res_name:
        raise TiltfileError(f"{fn}: `name` must not be empty")
    from tilt.tiltfile._resource_args import labels_arg, links_arg, trigger_mode_arg

    mode = trigger_mode_arg(fn, trigger_mode)
    deps = as_str_list(fn, "resource_deps", resource_deps)
    link_list = links_arg(fn, links)
    label_list = labels_arg(fn, labels)
    init = as_bool(fn, "auto_init", auto_init)
    proj_name = as_str(fn, "project_name", project_name)
    rename = as_str(fn, "new_name", new_name)
    infer = as_bool(fn, "infer_links", infer_links)
    image_ref = as_str(fn, "image", image, allow_none=True)
    if image_ref:
        from tilt.refs import parse_ref

        try:
            parse_ref(image_ref)
        except ValueError as e:
            raise TiltfileError(f"{fn}: image: {e}") from None

    st = ctx.state.family(ComposeState)
    proj, svc = _find_service(fn, st, res_name, proj_name)
    opts = proj.options_for(svc)
    if rename and rename != opts.resource_name:
        for other in st.projects.values():
            for other_svc in other.services:
                other_name = other.options_for(other_svc).resource_name
                if other_name == rename:
                    raise TiltfileError(
                        f"{fn}: new_name {rename!r}: a Docker Compose resource of that "
                        "name already exists"
                    )
        opts.resource_name = rename
    if mode is not None:
        opts.trigger_mode = mode
    for d in deps:
        if d not in opts.resource_deps:
            opts.resource_deps.append(d)
    opts.links.extend(link_list)
    for label in label_list:
        if label not in opts.labels:
            opts.labels.append(label)
    opts.auto_init = init
    opts.infer_links = infer
    if image_ref:
        opts.image = image_ref


# --- assembly ---------------------------------------------------------------------------


def _build_watch(state: LoadState, config: dict[str, Any], context: str) -> WatchSpec:
    """What a service Compose builds watches: its context, as a docker_build's (Tilt)."""
    from tilt.tiltfile._images import context_watch

    if "://" in context or context.startswith("git@"):
        return WatchSpec()  # a remote context: nothing local to watch
    build = config.get("build")
    dockerfile = build.get("dockerfile") if isinstance(build, dict) else None
    path = os.path.join(context, os.path.expanduser(str(dockerfile or "Dockerfile")))
    return context_watch(state, context, os.path.normpath(path))


def finalize(state: LoadState, asm: Assembly) -> None:
    """Make one DOCKER_COMPOSE resource per enabled service, in file order.

    Images: a service whose image matches a ``docker_build``/``custom_build`` ref
    (``refs_match``) runs that build (``image_ref`` = the build's ref, marked
    used); otherwise ``image_ref`` is the image Compose runs, and a service with
    ``build:`` is built by Compose from ``build_context``.
    """
    from tilt.refs import refs_match

    st = state.family(ComposeState)
    for proj in st.projects.values():
        renamed = {
            svc: (proj.options[svc].resource_name if svc in proj.options else svc)
            for svc in proj.services
        }
        for svc in proj.services.values():
            opts = proj.options.get(svc.name) or _Options(resource_name=svc.name)
            wanted = opts.image or svc.image
            build = next((img for img in asm.images if refs_match(img.ref, wanted)), None)
            image_refs: tuple[str, ...]
            if build is not None:
                asm.used_images.add(build.ref)
                image_ref, image_refs, context = build.ref, (build.ref,), ""
            else:
                image_ref, image_refs, context = wanted, (), svc.build_context
            watch = _build_watch(state, svc.config, context) if context else WatchSpec()
            # As Tilt: depends_on, deduplicated and sorted, then dc_resource's deps.
            deps = sorted({renamed.get(d, d) for d in svc.depends_on})
            deps += [d for d in opts.resource_deps if d not in deps]
            links: list[Link] = []
            if opts.infer_links:
                links = [Link(url=f"http://localhost:{p}/") for p in svc.published_ports]
            links += opts.links
            target = ComposeTarget(
                project_name=proj.name,
                config_files=tuple(proj.config_files),
                service=svc.name,
                env_file=proj.env_file,
                profiles=proj.profiles,
                image_ref=image_ref,
                build_context=context,
                depends_on=svc.depends_on,
                published_ports=svc.published_ports,
                project_dir=proj.project_dir,
                wait=proj.wait,
                watch=watch,
                service_config=copy.deepcopy(svc.config),
            )
            asm.resources.append(
                Resource(
                    name=opts.resource_name,
                    kind=ResourceKind.DOCKER_COMPOSE,
                    location=proj.location,
                    labels=tuple(opts.labels),
                    resource_deps=tuple(deps),
                    trigger_mode=opts.trigger_mode or asm.settings.default_trigger_mode,
                    auto_init=opts.auto_init,
                    links=tuple(links),
                    image_refs=image_refs,
                    compose=target,
                )
            )
