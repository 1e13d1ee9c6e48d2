"""Tiltfile builtins: ``config.*``, the arguments given after ``--`` and tilt_config.json.

As in Tilt: settings are declared with ``config.define_*``; ``config.parse()``
reads ``tilt_config.json`` from the calling Tiltfile's folder, then the
arguments (flags parsed the way Tilt's pflag does: ``--name value``,
``--name=value``, ``--flag`` for a bool, repeats for a string list, interspersed
positional arguments for the one ``args=True`` setting); arguments win over the
file. Without ``config.parse()``, positional arguments name the resources to
enable (``tilt up web api``).

``finalize`` records the result in ``asm.config``; after the graph is known,
``resolve_enabled_resources`` checks the names and adds what they depend on.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from tilt.model import ConfigState, Resource, SourceLocation
from tilt.tiltfile._context import (
    Ctx,
    LoadState,
    TiltfileError,
    as_bool,
    as_str,
    as_str_list,
    builtin,
    constant,
)

if TYPE_CHECKING:
    from tilt.tiltfile._assemble import Assembly

__all__ = ["CONFIG_FILE", "ConfigFamily", "finalize", "resolve_enabled_resources"]

CONFIG_FILE = "tilt_config.json"
UNCATEGORIZED = "uncategorized"


# --- setting values ---------------------------------------------------------------------


class _Value:
    """One setting's value while parsing: set from the file (JSON) or the command line."""

    type_name = ""
    kind = ""

    def __init__(self) -> None:
        self.is_set = False

    def set(self, text: str) -> None:
        raise NotImplementedError

    def set_json(self, value: Any) -> None:
        raise NotImplementedError

    def value(self) -> Any:
        raise NotImplementedError


def _json_type(v: Any) -> str:
    # Tilt reports JSON types by their Go names.
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "[]interface {}"
    if isinstance(v, dict):
        return "map[string]interface {}"
    return "<nil>"


class _String(_Value):
    type_name = "string"
    kind = "string"

    def __init__(self) -> None:
        super().__init__()
        self.text = ""

    def set(self, text: str) -> None:
        if self.is_set:
            raise ValueError(
                f"string settings can only be specified once. multiple values found "
                f"(last value: {text})"
            )
        self.text, self.is_set = text, True

    def set_json(self, value: Any) -> None:
        if value is None:
            return
        if not isinstance(value, str):
            raise ValueError(f"expected string, found {_json_type(value)}")
        self.text, self.is_set = value, True

    def value(self) -> Any:
        return self.text


class _StringList(_Value):
    type_name = "list[string]"
    kind = "string_list"

    def __init__(self) -> None:
        super().__init__()
        self.items: list[str] = []

    def set(self, text: str) -> None:
        self.items.append(text)
        self.is_set = True

    def set_json(self, value: Any) -> None:
        if value is None:
            self.items = []
            return
        if not isinstance(value, list):
            raise ValueError("expected array")
        items = []
        for item in value:
            if not isinstance(item, str):
                raise ValueError(f"expected string, got {_json_type(item)}")
            items.append(item)
        self.items, self.is_set = items, True

    def value(self) -> Any:
        return list(self.items)


_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


class _Bool(_Value):
    type_name = "bool"
    kind = "bool"

    def __init__(self) -> None:
        super().__init__()
        self.flag = False

    def set(self, text: str) -> None:
        if self.is_set:
            raise ValueError(
                f"bool settings can only be specified once. multiple values found "
                f"(last value: {text})"
            )
        if text in _TRUE:
            self.flag = True
        elif text in _FALSE:
            self.flag = False
        else:
            raise ValueError(f'strconv.ParseBool: parsing "{text}": invalid syntax')
        self.is_set = True

    def set_json(self, value: Any) -> None:
        if value is None:
            return
        if not isinstance(value, bool):
            raise ValueError(f"expected bool, found {_json_type(value)}")
        self.flag, self.is_set = value, True

    def value(self) -> Any:
        return self.flag


class _Object(_Value):
    type_name = "object"
    kind = "object"

    def __init__(self) -> None:
        super().__init__()
        self.obj: Any = None

    def set(self, text: str) -> None:
        if self.is_set:
            raise ValueError(
                f"object settings can only be specified once. multiple values found "
                f"(last value: {json.dumps(self.obj)})"
            )
        try:
            self.obj = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"decoding JSON, got {text!r}: {e.msg}") from None
        self.is_set = True

    def set_json(self, value: Any) -> None:
        if value is None:
            return
        self.obj, self.is_set = value, True

    def value(self) -> Any:
        return self.obj


@dataclass(frozen=True, kw_only=True)
class _Definition:
    name: str
    make: type[_Value]
    usage: str


@dataclass
class ConfigFamily:
    """What the config builtins recorded during one load."""

    definitions: dict[str, _Definition] = field(default_factory=dict)
    positional: str = ""
    parse_called: bool = False
    parse_dir: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    # set_enabled_resources: None = never called; disable_all from clear_enabled_resources.
    enabled: list[str] | None = None
    disable_all: bool = False
    enabled_location: SourceLocation | None = None


# --- argument parsing (pflag's rules, as Tilt uses them) --------------------------------


class _UsageError(Exception):
    pass


def _usage(fam: ConfigFamily) -> str:
    rows = []
    for name in sorted(fam.definitions):
        if name == fam.positional:
            continue
        d = fam.definitions[name]
        kind = "" if d.make is _Bool else f" {d.make.type_name}"
        rows.append((f"      --{name}{kind}", d.usage))
    if not rows:
        return ""
    width = max(len(left) for left, _ in rows)
    lines = [f"{left.ljust(width)}   {usage}".rstrip() for left, usage in rows]
    return "Usage:\n" + "\n".join(lines)


def _parse_args(fam: ConfigFamily, args: Sequence[str]) -> dict[str, _Value]:
    values = {name: d.make() for name, d in fam.definitions.items()}
    flags = {name: v for name, v in values.items() if name != fam.positional}
    positional: list[str] = []

    def set_flag(v: _Value, display: str, text: str) -> None:
        try:
            v.set(text)
        except ValueError as e:
            raise _UsageError(f'invalid argument "{text}" for "{display}" flag: {e}') from None

    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            positional.extend(args[i:])
            break
        if not arg.startswith("-") or arg == "-":
            positional.append(arg)
            continue
        long = arg.startswith("--")
        name, eq, text = arg[2 if long else 1 :].partition("=")
        v = flags.get(name)
        if v is None:
            if long:
                raise _UsageError(f"unknown flag: --{name}")
            # pflag reads "-abc" as shorthand letters; Tilt's config defines none.
            raise _UsageError(f"unknown shorthand flag: '{name[:1]}' in {arg}")
        # Older Tilt (Go's flag package) took "-name"; accepted the same way here.
        display = f"--{name}"
        if eq:
            set_flag(v, display, text)
        elif isinstance(v, _Bool):
            set_flag(v, display, "true")
        elif i < len(args):
            set_flag(v, display, args[i])
            i += 1
        else:
            raise _UsageError(f"flag needs an argument: {display}")

    if positional:
        if not fam.positional:
            raise _UsageError(
                "positional args were specified, but none were expected "
                "(no setting defined with args=True)"
            )
        target = values[fam.positional]
        for text in positional:
            try:
                target.set(text)
            except ValueError as e:
                raise _UsageError(f"error setting positional arg {fam.positional}: {e}") from None
    return values


def _read_config_file(fam: ConfigFamily, path: str) -> dict[str, _Value]:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise TiltfileError(f"config.parse: error opening {path}: {e.strerror or e}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise TiltfileError(
            f"config.parse: error parsing json from {path}: {e.msg} "
            f"(line {e.lineno} column {e.colno})"
        ) from None
    if not isinstance(data, dict):
        raise TiltfileError(
            f"config.parse: error parsing json from {path}: want a JSON object of "
            f"setting names to values, got {_json_type(data)}"
        )
    out: dict[str, _Value] = {}
    for key, raw in data.items():
        d = fam.definitions.get(key)
        if d is None:
            raise TiltfileError(f"config.parse: {path} specified unknown setting name '{key}'")
        v = d.make()
        try:
            v.set_json(raw)
        except ValueError as e:
            raise TiltfileError(
                f"config.parse: {path} specified invalid value for setting {key}: {e}"
            ) from None
        out[key] = v
    return out


# --- builtins ---------------------------------------------------------------------------


def _define(
    ctx: Ctx, fn: str, make: type[_Value], *, name: object, args: object, usage: object
) -> None:
    fam = ctx.state.family(ConfigFamily)
    setting = as_str(fn, "name", name)
    is_args = as_bool(fn, "args", args)
    text = as_str(fn, "usage", usage)
    if not setting:
        raise TiltfileError(f"{fn}: 'name' is required")
    if fam.parse_called:
        raise TiltfileError(f"{fn}: {fn} cannot be called after config.parse is called")
    if setting in fam.definitions:
        raise TiltfileError(f"{fn}: {setting} defined multiple times")
    if is_args:
        if fam.positional:
            raise TiltfileError(
                f"{fn}: both {setting} and {fam.positional} are defined as positional args"
            )
        fam.positional = setting
    fam.definitions[setting] = _Definition(name=setting, make=make, usage=text)


@builtin("config.define_string")
def define_string(ctx: Ctx, name: object, args: object = False, usage: object = "") -> None:
    """Declare a string setting, given once as ``--name value`` or ``--name=value``.

    Set more than once, it is an error. In tilt_config.json it is a JSON string.

    Args:
        name: the setting's name (the flag is ``--name``).
        args: if True, this setting takes the positional arguments instead of a flag
            (at most one setting may).
        usage: a description, shown in the usage text on a bad argument.
    """
    _define(ctx, "config.define_string", _String, name=name, args=args, usage=usage)


@builtin("config.define_string_list")
def define_string_list(ctx: Ctx, name: object, args: object = False, usage: object = "") -> None:
    """Declare a list-of-strings setting: each ``--name value`` adds one item.

    In tilt_config.json it is a JSON array of strings. The usual pattern
    ``config.define_string_list("to-run", args=True)`` collects the positional
    arguments (``tilt up -- a b``).

    Args:
        name: the setting's name (the flag is ``--name``).
        args: if True, this setting takes the positional arguments instead of a flag
            (at most one setting may).
        usage: a description, shown in the usage text on a bad argument.
    """
    _define(ctx, "config.define_string_list", _StringList, name=name, args=args, usage=usage)


@builtin("config.define_bool")
def define_bool(ctx: Ctx, name: object, args: object = False, usage: object = "") -> None:
    """Declare a boolean setting: ``--name`` sets it True, ``--name=false`` False.

    Set more than once, it is an error. In tilt_config.json it is a JSON boolean.

    Args:
        name: the setting's name (the flag is ``--name``).
        args: if True, this setting takes the positional argument instead of a flag.
        usage: a description, shown in the usage text on a bad argument.
    """
    _define(ctx, "config.define_bool", _Bool, name=name, args=args, usage=usage)


@builtin("config.define_object")
def define_object(ctx: Ctx, name: object, args: object = False, usage: object = "") -> None:
    """Declare a setting holding any JSON value: ``--name '{"a": 1}'``.

    Set more than once, it is an error. In tilt_config.json it is any JSON value.

    Args:
        name: the setting's name (the flag is ``--name``).
        args: if True, this setting takes the positional argument instead of a flag.
        usage: a description, shown in the usage text on a bad argument.
    """
    _define(ctx, "config.define_object", _Object, name=name, args=args, usage=usage)


@builtin("config.parse")
def parse(ctx: Ctx) -> dict[str, Any]:
    """Parse the declared settings from tilt_config.json and the arguments after ``--``.

    ``tilt_config.json`` is read from the folder of the calling Tiltfile (and
    watched); a setting given on the command line wins over the file. Only
    settings that were given appear in the result, so use ``cfg.get(name,
    default)``. An unknown flag, a bad value or an unexpected positional argument
    is an error that includes the usage text.

    Once ``config.parse()`` is called, positional arguments no longer select the
    resources to enable (use ``config.set_enabled_resources``). It may be called
    from one folder only per load; ``config.define_*`` may not follow it.

    Returns:
        A dict from setting name to value.
    """
    fn = "config.parse"
    fam = ctx.state.family(ConfigFamily)
    if fam.parse_dir and fam.parse_dir != ctx.dir:
        raise TiltfileError(
            f"{fn}: {fn} can only be called from one Tiltfile working directory per run. "
            f"It was called from {fam.parse_dir} and {ctx.dir}"
        )
    fam.parse_dir = ctx.dir
    fam.parse_called = True
    path = os.path.join(ctx.dir, CONFIG_FILE)
    ctx.state.record_read(path)
    merged = _read_config_file(fam, path)
    try:
        from_args = _parse_args(fam, ctx.state.args)
    except _UsageError as e:
        usage = _usage(fam)
        for line in usage.splitlines():
            ctx.state.log(line)
        raise TiltfileError(f"{fn}: {e}" + (f"\n{usage}" if usage else "")) from None
    for name, v in from_args.items():
        if v.is_set:
            merged[name] = v
    values = {name: v.value() for name, v in merged.items() if v.is_set}
    fam.values = values
    return dict(values)


@builtin("config.set_enabled_resources", located=True)
def set_enabled_resources(ctx: Ctx, resources: object) -> None:
    """Enable only these resources (and the resources they depend on).

    The others stay in the graph, disabled (they can be enabled later). An empty
    list enables every resource, as in Tilt. A name that matches no resource is an
    error listing the resources that exist.

    Args:
        resources: a list of resource names.
    """
    fam = ctx.state.family(ConfigFamily)
    if not isinstance(resources, list | tuple):
        raise TiltfileError(
            "config.set_enabled_resources: resources must be a list of string, got "
            f"{type(resources).__name__}"
        )
    fam.enabled = as_str_list("config.set_enabled_resources", "resources", resources)
    fam.disable_all = False
    fam.enabled_location = ctx.location


@builtin("config.clear_enabled_resources")
def clear_enabled_resources(ctx: Ctx) -> None:
    """Start with every resource disabled (they can be enabled one by one later).

    A later ``config.set_enabled_resources`` replaces this.
    """
    ctx.state.family(ConfigFamily).disable_all = True


def _subcommand(ctx: Ctx) -> str:
    return ctx.state.subcommand


def _main_path(ctx: Ctx) -> str:
    return ctx.state.main_path


def _main_dir(ctx: Ctx) -> str:
    return ctx.state.main_dir


constant(
    "config.tilt_subcommand",
    _subcommand,
    'The tilt subcommand running the Tiltfile: `"up"`, `"ci"`, `"down"`, `"dump"` ...',
)
constant("config.main_path", _main_path, "The absolute path of the main Tiltfile.")
constant("config.main_dir", _main_dir, "The absolute path of the main Tiltfile's folder.")


# --- finalize ---------------------------------------------------------------------------


def finalize(state: LoadState, asm: Assembly) -> None:
    """Record the arguments, parsed values and requested resources in ``asm.config``.

    ``enabled_resources`` is None for "all", an empty tuple for "none" (after
    ``config.clear_enabled_resources()``), else the requested names;
    ``resolve_enabled_resources`` completes it once the resources exist.
    """
    fam = state.family(ConfigFamily)
    enabled: tuple[str, ...] | None
    if fam.disable_all:
        enabled = ()
    elif fam.enabled is not None:
        enabled = tuple(dict.fromkeys(fam.enabled)) or None
    elif state.args and not fam.parse_called:
        # Tilt: without config.parse(), `tilt up a b` enables resources a and b.
        enabled = tuple(dict.fromkeys(state.args))
    else:
        enabled = None
    asm.config = ConfigState(
        args=tuple(state.args),
        values=dict(fam.values),
        enabled_resources=enabled,
        subcommand=state.subcommand,
    )


def resolve_enabled_resources(
    state: LoadState, config: ConfigState, resources: Sequence[Resource]
) -> ConfigState:
    """Check the requested names and add every resource they depend on (transitively).

    ``uncategorized`` (the Kubernetes objects no workload owns) stays enabled, as in
    Tilt. The result lists names in the resources' order.

    Raises:
        TiltfileError: a requested name matches no resource (Tilt's message).
    """
    requested = config.enabled_resources
    if not requested:
        return config
    by_name = {r.name: r for r in resources}
    unknown = [n for n in requested if n not in by_name]
    if unknown:
        rest = [r.name for r in resources if r.name not in requested]
        fam = state.family(ConfigFamily)
        where = fam.enabled_location if fam.enabled is not None else None
        raise TiltfileError(
            "You specified some resources that could not be found: "
            + ", ".join(f'"{n}"' for n in unknown)
            + "\nIs this a typo? Existing resources in Tiltfile: "
            + ", ".join(f'"{n}"' for n in rest),
            where,
        )
    chosen: set[str] = set()
    todo = list(requested)
    while todo:
        name = todo.pop()
        if name in chosen or name not in by_name:
            continue
        chosen.add(name)
        todo.extend(by_name[name].resource_deps)
    names = tuple(r.name for r in resources if r.name in chosen or r.name == UNCATEGORIZED)
    return replace(config, enabled_resources=names)
