"""Shared machinery for Tiltfile builtins: the registry, the load state, argument helpers.

A builtin is a plain function whose first parameter is a `Ctx` (the file that
calls it and the load state) followed by Tilt's own parameters, with Tilt's
names and defaults. Register it with `@builtin("name")` (dotted names such as
``os.path.join`` become struct members). Its Google-style docstring is what
docs/tiltfile-api.md shows.

Builtins that declare something whose validation happens after the whole
Tiltfile ran (a resource, an image, YAML) are registered with
``located=True``: they receive ``ctx.location`` pointing at the call site in
the user's file, so a later error can name file:line.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from tilt import model
from tilt.model import Cmd, SourceLocation, TiltfileWarning
from tilt.tiltfile._dialect import SET_MARK

__all__ = [
    "BUILTINS",
    "CONSTANTS",
    "DOC_SECTIONS",
    "Builtin",
    "Ctx",
    "LoadState",
    "TiltfileError",
    "as_bool",
    "as_cmd",
    "as_int",
    "as_str",
    "as_str_dict",
    "as_str_list",
    "builtin",
    "constant",
    "doc_section",
    "is_set",
    "typename",
]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


class TiltfileError(Exception):
    """A user error in a Tiltfile. The message is shown as is, with the call's location."""

    def __init__(self, message: str, location: SourceLocation | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location


@dataclass(frozen=True, kw_only=True)
class Builtin:
    name: str
    fn: Callable[..., Any]
    located: bool = False
    family: str = ""

    @property
    def doc(self) -> str:
        return self.fn.__doc__ or ""


BUILTINS: dict[str, Builtin] = {}
CONSTANTS: dict[str, tuple[object, str]] = {}
# Prose sections of docs/tiltfile-api.md that are not one builtin: title -> markdown.
DOC_SECTIONS: dict[str, str] = {}


def doc_section(title: str, markdown: str) -> None:
    """Register a section of docs/tiltfile-api.md (the dialect, extensions, buttons ...)."""
    if title in DOC_SECTIONS:
        raise RuntimeError(f"doc section {title!r} registered twice")
    DOC_SECTIONS[title] = markdown.strip()


def builtin(name: str, *, located: bool = False) -> Callable[[F], F]:
    """Register ``fn`` as the Tiltfile builtin ``name``."""

    def register(fn: F) -> F:
        if name in BUILTINS:
            raise RuntimeError(f"builtin {name} registered twice")
        family = fn.__module__.rsplit(".", 1)[-1].lstrip("_")
        BUILTINS[name] = Builtin(
            name=name, fn=_clear_errors(name, fn), located=located, family=family
        )
        return fn

    return register


def _clear_errors(name: str, fn: F) -> F:
    """``fn``, with the system's terse errors turned into one clear Tiltfile error.

    A NUL character in a path or command ("ValueError: embedded null byte") and
    an OS error a builtin did not expect (a folder where a file should be...)
    name the builtin instead of a Python exception type.
    """

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ValueError as e:
            if "null byte" in str(e) or "null character" in str(e):
                raise TiltfileError(
                    f"{name}: an argument contains a NUL character (\\x00); "
                    "no path, command or environment value can hold one"
                ) from None
            raise
        except OSError as e:
            what = e.strerror or str(e)
            where = f": {e.filename}" if e.filename else ""
            raise TiltfileError(f"{name}: {what}{where}") from None

    return cast("F", call)


def constant(name: str, value: object, doc: str) -> None:
    """Register a predeclared value (e.g. ``TRIGGER_MODE_AUTO``)."""
    if name in CONSTANTS:
        raise RuntimeError(f"constant {name} registered twice")
    CONSTANTS[name] = (value, doc)


S = TypeVar("S")


@dataclass
class LoadState:
    """Everything one evaluation of a Tiltfile accumulates. Mutable; one per load."""

    main_path: str
    args: tuple[str, ...] = ()
    subcommand: str = "up"
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    files_read: dict[str, None] = field(default_factory=dict)
    logs: list[str] = field(default_factory=list)
    warnings: list[TiltfileWarning] = field(default_factory=list)
    # Per-family state, keyed by its class (see `family`).
    _families: dict[type[Any], Any] = field(default_factory=dict)

    @property
    def main_dir(self) -> str:
        return os.path.dirname(self.main_path)

    def family(self, cls: type[S]) -> S:
        """The state object of one family of builtins, created on first use."""
        got = self._families.get(cls)
        if got is None:
            got = cls()
            self._families[cls] = got
        return got

    def record_read(self, path: str) -> None:
        """Remember a file the Tiltfile read, so a change to it reloads the Tiltfile."""
        self.files_read[os.path.abspath(path)] = None

    def log(self, line: str) -> None:
        self.logs.append(line)

    def warn(self, message: str, location: SourceLocation | None = None) -> None:
        self.warnings.append(TiltfileWarning(message=message, location=location))
        where = f"{location}: " if location else ""
        self.logs.append(f"WARNING: {where}{message}")


@dataclass
class Ctx:
    """What a builtin call knows: the state and the file (and line) that called it."""

    state: LoadState
    file: str
    display_file: str
    location: SourceLocation | None = None

    @property
    def dir(self) -> str:
        return os.path.dirname(self.file)

    def abspath(self, path: str) -> str:
        """A path relative to the running load's folder, made absolute (Tilt's rule)."""
        path = os.path.expanduser(path)
        return os.path.normpath(os.path.join(self.dir, path))

    def here(self) -> SourceLocation:
        return self.location or SourceLocation(file=self.display_file, line=0)

    def warn(self, message: str) -> None:
        """A warning at this call (a check Tilt does not make: issue 15's rule)."""
        self.state.warn(message, self.here())


# --- argument conversion -------------------------------------------------------------
# Starlark values reach Python converted: str, int, float, bool, None, list (tuples too),
# dict; opaque values (blobs, probes, links...) arrive as the Python objects we made.


# Tilt's names for its own value types, as its error messages show them.
TILT_TYPE_NAMES: dict[type, str] = {
    model.Probe: "Probe",
    model.ExecAction: "ExecAction",
    model.HttpGetAction: "HTTPGetAction",
    model.TcpSocketAction: "TCPSocketAction",
    model.Link: "link",
    model.PortForward: "port_forward",
    model.TriggerMode: "trigger_mode",
    # live_update steps (Tilt's live_update.go Type() names).
    model.SyncStep: "live_update_sync_step",
    model.RunStep: "live_update_run_step",
    model.FallBackOnStep: "live_update_fall_back_on_step",
    model.InitialSyncStep: "live_update_initial_sync_step",
    model.RestartContainerStep: "live_update_restart_container_step",
}


def typename(v: object) -> str:
    """The Starlark (Tilt) name of a value's type, for error messages."""
    if v is None:
        return "NoneType"
    if isinstance(v, bool):
        return "bool"
    for cls, name in TILT_TYPE_NAMES.items():
        if isinstance(v, cls):
            return name
    for cls, name in ((int, "int"), (float, "float"), (str, "string")):
        if isinstance(v, cls):
            return name
    if isinstance(v, list | tuple):
        return "list"
    if isinstance(v, dict):
        return "set" if is_set(v) else "dict"
    return getattr(type(v), "starlark_type", type(v).__name__)


_typename = typename


def is_set(v: object) -> bool:
    """Whether a value that came from Starlark is a (non-empty) ``set()`` (see _dialect)."""
    return isinstance(v, dict) and bool(v) and all(x == SET_MARK for x in v.values())


def as_str(fn: str, arg: str, v: object, *, allow_none: bool = False) -> str:
    """A string argument; a Blob counts as its text."""
    if v is None and allow_none:
        return ""
    text = getattr(v, "starlark_text", None)
    if isinstance(text, str):
        return text
    if not isinstance(v, str):
        raise TiltfileError(f"{fn}: for parameter {arg!r}: got {_typename(v)}, want string")
    return v


def as_str_list(fn: str, arg: str, v: object) -> list[str]:
    """A string or a list of strings (Tilt accepts both almost everywhere).

    Any Starlark iterable counts as a list, as in Tilt: a ``set()`` (a dict here) or
    a dict gives its keys.
    """
    if v is None:
        return []
    if isinstance(v, dict):
        v = list(v)
    if isinstance(v, str) or hasattr(v, "starlark_text"):
        return [as_str(fn, arg, v)]
    if not isinstance(v, list | tuple):
        raise TiltfileError(
            f"{fn}: for parameter {arg!r}: got {_typename(v)}, want string or list of strings"
        )
    out = []
    for i, item in enumerate(v):
        if not isinstance(item, str) and not hasattr(item, "starlark_text"):
            raise TiltfileError(
                f"{fn}: for parameter {arg!r}: item {i}: got {_typename(item)}, want string"
            )
        out.append(as_str(fn, arg, item))
    return out


def as_bool(fn: str, arg: str, v: object) -> bool:
    if not isinstance(v, bool):
        raise TiltfileError(f"{fn}: for parameter {arg!r}: got {_typename(v)}, want bool")
    return v


def as_int(fn: str, arg: str, v: object) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise TiltfileError(f"{fn}: for parameter {arg!r}: got {_typename(v)}, want int")
    return v


def as_str_dict(fn: str, arg: str, v: object) -> dict[str, str]:
    """A dict of strings to strings (env, build_args ...); ints and bools are stringified."""
    if v is None:
        return {}
    if not isinstance(v, dict) or is_set(v):
        raise TiltfileError(f"{fn}: for parameter {arg!r}: got {_typename(v)}, want dict")
    out: dict[str, str] = {}
    for k, val in v.items():
        if not isinstance(k, str):
            raise TiltfileError(f"{fn}: for parameter {arg!r}: key {k!r} is not a string")
        if isinstance(val, bool):
            out[k] = "true" if val else "false"
        elif isinstance(val, int | float | str):
            out[k] = str(val)
        else:
            out[k] = as_str(fn, f"{arg}[{k!r}]", val)
    return out


def as_cmd(fn: str, arg: str, v: object, *, allow_empty: bool = True) -> Cmd | None:
    """A command: a string runs through ``sh -c``, a list is argv (Tilt's rule)."""
    if v is None or v in ("", []):
        if not allow_empty:
            raise TiltfileError(f"{fn}: {arg} must not be empty")
        return None
    if isinstance(v, str) or hasattr(v, "starlark_text"):
        return Cmd(argv=("sh", "-c", as_str(fn, arg, v)), shell=True)
    return Cmd(argv=tuple(as_str_list(fn, arg, v)))


def unique(items: Iterable[T]) -> list[T]:
    """Items in order, each once."""
    return list(dict.fromkeys(items))
