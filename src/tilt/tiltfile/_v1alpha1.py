"""Tiltfile builtins: Tilt's ``v1alpha1.*`` API object constructors.

Tilt generates one builtin per API type (``internal/tiltfile/v1alpha1/types.go``):
an object constructor (``v1alpha1.cmd``, ``v1alpha1.ui_button`` ...) takes ``name``,
``labels``, ``annotations`` and the spec's fields, validates the object as the API
server would and registers it (a second object of the same kind and name is an
error); a sub-spec constructor (``v1alpha1.ui_input_spec`` ...) returns a dict of
the fields given, and every place that takes a sub-spec takes such a dict too.

The objects are kept in the graph (`TiltfileResult.api_objects`, shown by
``tilt dump tiltfile``). A ``ui_button`` whose location is a resource, together
with the ``cmd`` whose ``start_on`` (or ``restart_on``) names it, becomes an action
of that resource in the TUI and for ``tilt button`` (see `tilt.buttons`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tilt.model import ApiObject
from tilt.tiltfile._context import Ctx, LoadState, TiltfileError, builtin, doc_section, typename

__all__ = ["V1Alpha1State", "api_objects", "ensure_object", "registered"]

# Tilt's resource names for its kinds, as its "already registered" message shows them.
_RESOURCE_NAMES = {
    "Cmd": "cmds",
    "ConfigMap": "configmaps",
    "Extension": "extensions",
    "ExtensionRepo": "extensionrepos",
    "FileWatch": "filewatches",
    "UIButton": "uibuttons",
}


@dataclass
class V1Alpha1State:
    """The objects a Tiltfile registered, by kind then name, in declaration order."""

    objects: dict[str, dict[str, ApiObject]] = field(default_factory=dict)


def _state(state: LoadState) -> V1Alpha1State:
    return state.family(V1Alpha1State)


def registered(state: LoadState, kind: str, name: str) -> ApiObject | None:
    """The object of ``kind`` named ``name`` registered so far, if any."""
    return _state(state).objects.get(kind, {}).get(name)


def ensure_object(state: LoadState, obj: ApiObject) -> ApiObject:
    """Register ``obj`` unless one of its kind and name exists; return the one kept.

    What Tilt's extension loader does for the extension and repository an
    ``ext://`` load implies (``ensureExtension`` / ``ensureRepo``).
    """
    typed = _state(state).objects.setdefault(obj.kind, {})
    return typed.setdefault(obj.name, obj)


def api_objects(state: LoadState) -> tuple[ApiObject, ...]:
    """Every registered object, grouped by kind (sorted), in declaration order."""
    st = _state(state)
    return tuple(o for kind in sorted(st.objects) for o in st.objects[kind].values())


def _register(  # noqa: PLR0917 -- the parts of one object, in order
    ctx: Ctx,
    kind: str,
    name: str,
    labels: dict[str, str],
    annotations: dict[str, str],
    spec: dict[str, Any],
    errors: list[str],
) -> None:
    """Keep a ``kind`` object declared at the current call, unless ``errors`` say no."""
    obj = ApiObject(
        kind=kind,
        name=name,
        labels=labels,
        annotations=annotations,
        spec=spec,
        location=ctx.here(),
    )
    fn = f"v1alpha1.{_BUILTIN_OF[obj.kind]}"
    if errors:
        raise TiltfileError(
            f"{fn}: " + (errors[0] if len(errors) == 1 else f"[{', '.join(errors)}]")
        )
    typed = _state(ctx.state).objects.setdefault(obj.kind, {})
    if obj.name in typed:
        raise TiltfileError(f'{fn}: {_RESOURCE_NAMES[obj.kind]} "{obj.name}" already registered')
    typed[obj.name] = obj


_BUILTIN_OF = {
    "Cmd": "cmd",
    "ConfigMap": "config_map",
    "Extension": "extension",
    "ExtensionRepo": "extension_repo",
    "FileWatch": "file_watch",
    "UIButton": "ui_button",
}

# --- argument unpacking (the messages of Tilt's generated unpackers) ------------------


class _Unpack(Exception):
    """A field that does not unpack; the message is Tilt's."""


def _param(fn: str, arg: str, unpack: Callable[[Any], Any], value: Any) -> Any:
    try:
        return unpack(value)
    except _Unpack as e:
        raise TiltfileError(f"{fn}: for parameter {arg}: {e}") from None


def _string(value: Any, key: str = "") -> str:
    if isinstance(value, str):
        return value
    where = f"unpacking {key}: " if key else ""
    raise _Unpack(f"{where}expected string, actual: {typename(value)}")


def _boolean(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    raise _Unpack(f"unpacking {key}: expected bool, actual: {typename(value)}")


def _string_list(value: Any, key: str = "") -> list[str]:
    where = f"unpacking {key}: " if key else ""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list | tuple):
        raise _Unpack(
            f"{where}value should be a string or List or Tuple of strings, "
            f"but is of type {typename(value)}"
        )
    out = []
    for item in value:
        if not isinstance(item, str):
            raise _Unpack(
                f"{where}value should contain only strings, but element "
                f"{item!r} was of type {typename(item)}"
            )
        out.append(item)
    return out


def _string_map(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Unpack(f"expected dict, actual: {typename(value)}")
    out: dict[str, str] = {}
    for k, v in value.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise _Unpack(
                f"key {k!r}: expected string to string, actual: {typename(k)} to {typename(v)}"
            )
        out[k] = v
    return out


def _dict(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Unpack(f"expected dict, actual: {typename(value)}")
    for k in value:
        if not isinstance(k, str):
            raise _Unpack(f"key must be string. Got: {typename(k)}")
    return value


def _fields(
    value: Any, unpackers: dict[str, Callable[[Any, str], tuple[str, Any]]]
) -> dict[str, Any]:
    """Unpack a sub-spec dict: each key through its unpacker (-> Tilt's JSON name, value)."""
    out: dict[str, Any] = {}
    for key, val in _dict(value).items():
        unpack = unpackers.get(key)
        if unpack is None:
            raise _Unpack(f"Unexpected attribute name: {key}")
        json_name, got = unpack(val, key)
        out[json_name] = got
    return out


def _str_field(json_name: str) -> Callable[[Any, str], tuple[str, Any]]:
    return lambda v, key: (json_name, _string(v, key))


def _bool_field(json_name: str) -> Callable[[Any, str], tuple[str, Any]]:
    return lambda v, key: (json_name, _boolean(v, key))


def _list_field(json_name: str) -> Callable[[Any, str], tuple[str, Any]]:
    def unpack(v: Any, key: str) -> tuple[str, Any]:
        return json_name, _string_list(v, key)

    return unpack


def _nested(json_name: str, inner: Callable[[Any], Any]) -> Callable[[Any, str], tuple[str, Any]]:
    def unpack(v: Any, key: str) -> tuple[str, Any]:
        try:
            return json_name, inner(v)
        except _Unpack as e:
            raise _Unpack(f"unpacking {key}: {e}") from None

    return unpack


def _text_input(v: Any) -> dict[str, Any]:
    return _fields(
        v, {"default_val": _str_field("defaultValue"), "placeholder": _str_field("placeholder")}
    )


def _bool_input(v: Any) -> dict[str, Any]:
    return _fields(
        v,
        {
            "default_val": _bool_field("defaultValue"),
            "true_string": _str_field("trueString"),
            "false_string": _str_field("falseString"),
        },
    )


def _hidden_input(v: Any) -> dict[str, Any]:
    return _fields(v, {"value": _str_field("value")})


def _choice_input(v: Any) -> dict[str, Any]:
    return _fields(v, {"choices": _list_field("choices")})


def _input(v: Any) -> dict[str, Any]:
    return _fields(
        v,
        {
            "name": _str_field("name"),
            "label": _str_field("label"),
            "text": _nested("text", _text_input),
            "bool": _nested("bool", _bool_input),
            "hidden": _nested("hidden", _hidden_input),
            "choice": _nested("choice", _choice_input),
        },
    )


def _input_list(v: Any) -> list[dict[str, Any]]:
    if v is None:
        return []
    if not isinstance(v, list | tuple):
        raise _Unpack(f"expected list, actual: {typename(v)}")
    out = []
    for i, item in enumerate(v):
        try:
            out.append(_input(item))
        except _Unpack as e:
            raise _Unpack(f"at index {i}: {e}") from None
    return out


def _location(v: Any) -> dict[str, Any]:
    return _fields(
        v,
        {"component_id": _str_field("componentID"), "component_type": _str_field("componentType")},
    )


def _start_on(v: Any) -> dict[str, Any]:
    return _fields(
        v, {"ui_buttons": _list_field("uiButtons"), "start_after": _str_field("startAfter")}
    )


def _restart_on(v: Any) -> dict[str, Any]:
    return _fields(
        v, {"ui_buttons": _list_field("uiButtons"), "file_watches": _list_field("fileWatches")}
    )


def _config_map_disable_source(v: Any) -> dict[str, Any]:
    return _fields(v, {"name": _str_field("name"), "key": _str_field("key")})


def _disable_source(v: Any) -> dict[str, Any]:
    return _fields(v, {"config_map": _nested("configMap", _config_map_disable_source)})


def _ignore_def(ctx: Ctx) -> Callable[[Any], dict[str, Any]]:
    def unpack(v: Any) -> dict[str, Any]:
        got = _fields(v, {"base_path": _str_field("basePath"), "patterns": _list_field("patterns")})
        if "basePath" in got:
            got["basePath"] = ctx.abspath(got["basePath"])
        return got

    return unpack


def _optional(unpack: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda v: None if v is None else unpack(v)


def _meta(
    fn: str, name: Any, labels: Any, annotations: Any
) -> tuple[str, dict[str, str], dict[str, str]]:
    if not isinstance(name, str):
        raise TiltfileError(f"{fn}: for parameter name: got {typename(name)}, want string")
    return (
        name,
        _param(fn, "labels", _string_map, labels),
        _param(fn, "annotations", _string_map, annotations),
    )


def _name_errors(name: str) -> list[str]:
    # Tilt's API server checks names as path segments (ValidatePathSegmentName).
    if not name:
        return ["metadata.name: Required value: name or generateName is required"]
    if name in (".", ".."):
        return [f"metadata.name: Invalid value: {name!r}: may not be '{name}'"]
    for bad in ("/", "%"):
        if bad in name:
            return [f"metadata.name: Invalid value: {name!r}: may not contain '{bad}'"]
    return []


# --- sub-spec constructors: dicts of the fields given ----------------------------------


def _sub(fn: str, unpack: Callable[[Any], Any], given: dict[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in given.items() if v is not None}
    try:
        unpack(fields)
    except _Unpack as e:
        raise TiltfileError(f"{fn}: {e}") from None
    return fields


@builtin("v1alpha1.ui_text_input_spec")
def ui_text_input_spec(
    ctx: Ctx, default_val: object = None, placeholder: object = None
) -> dict[str, Any]:
    """A text input of a ``ui_button``: a dict, for ``ui_input_spec(text=...)``.

    Args:
        default_val: the initial value.
        placeholder: a hint shown in the empty field.
    """
    return _sub(
        "v1alpha1.ui_text_input_spec",
        _text_input,
        {"default_val": default_val, "placeholder": placeholder},
    )


@builtin("v1alpha1.ui_bool_input_spec")
def ui_bool_input_spec(
    ctx: Ctx, default_val: object = None, true_string: object = None, false_string: object = None
) -> dict[str, Any]:
    """A checkbox input of a ``ui_button``: a dict, for ``ui_input_spec(bool=...)``.

    Args:
        default_val: whether it starts checked.
        true_string: the value passed to the command when checked (default ``"true"``).
        false_string: the value passed when unchecked (default ``"false"``).
    """
    return _sub(
        "v1alpha1.ui_bool_input_spec",
        _bool_input,
        {"default_val": default_val, "true_string": true_string, "false_string": false_string},
    )


@builtin("v1alpha1.ui_choice_input_spec")
def ui_choice_input_spec(ctx: Ctx, choices: object = None) -> dict[str, Any]:
    """A choice input of a ``ui_button``: a dict, for ``ui_input_spec(choice=...)``.

    Args:
        choices: the values to choose from (the first is the default); must not be empty.
    """
    return _sub("v1alpha1.ui_choice_input_spec", _choice_input, {"choices": choices})


@builtin("v1alpha1.ui_hidden_input_spec")
def ui_hidden_input_spec(ctx: Ctx, value: object = None) -> dict[str, Any]:
    """An input of a ``ui_button`` with a fixed value that is never shown.

    Args:
        value: the value passed to the command.
    """
    return _sub("v1alpha1.ui_hidden_input_spec", _hidden_input, {"value": value})


@builtin("v1alpha1.ui_input_spec")
def ui_input_spec(  # noqa: PLR0917 -- Tilt's parameters
    ctx: Ctx,
    name: object = None,
    label: object = None,
    text: object = None,
    bool: object = None,
    hidden: object = None,
    choice: object = None,
) -> dict[str, Any]:
    """One input of a ``ui_button``: a dict, for ``ui_button(inputs=[...])``.

    Exactly one of ``text``, ``bool``, ``hidden`` and ``choice`` must be given (checked
    by ``ui_button``, as Tilt does). The command a button starts gets each input as
    an environment variable named after the input.

    Args:
        name: the input's name, unique within the button (the variable's name).
        label: the label shown next to the input.
        text: a ``ui_text_input_spec`` (or a dict of its fields).
        bool: a ``ui_bool_input_spec``.
        hidden: a ``ui_hidden_input_spec``.
        choice: a ``ui_choice_input_spec``.
    """
    return _sub(
        "v1alpha1.ui_input_spec",
        _input,
        {
            "name": name,
            "label": label,
            "text": text,
            "bool": bool,
            "hidden": hidden,
            "choice": choice,
        },
    )


@builtin("v1alpha1.ui_component_location")
def ui_component_location(
    ctx: Ctx, component_id: object = None, component_type: object = None
) -> dict[str, Any]:
    """Where a ``ui_button`` goes: a dict, for ``ui_button(location=...)``.

    Args:
        component_id: the resource's name (for ``component_type="resource"``).
        component_type: ``"resource"`` or ``"global"``.
    """
    return _sub(
        "v1alpha1.ui_component_location",
        _location,
        {"component_id": component_id, "component_type": component_type},
    )


@builtin("v1alpha1.start_on_spec")
def start_on_spec(
    ctx: Ctx, ui_buttons: object = None, start_after: object = None
) -> dict[str, Any]:
    """What starts a ``cmd``: a dict, for ``cmd(start_on=...)``.

    Args:
        ui_buttons: names of the ``ui_button`` objects whose click runs the command.
        start_after: ignore clicks before this time (an RFC 3339 timestamp).
    """
    return _sub(
        "v1alpha1.start_on_spec", _start_on, {"ui_buttons": ui_buttons, "start_after": start_after}
    )


@builtin("v1alpha1.restart_on_spec")
def restart_on_spec(
    ctx: Ctx, file_watches: object = None, ui_buttons: object = None
) -> dict[str, Any]:
    """What restarts a ``cmd``: a dict, for ``cmd(restart_on=...)``.

    Args:
        file_watches: names of ``file_watch`` objects.
        ui_buttons: names of ``ui_button`` objects.
    """
    return _sub(
        "v1alpha1.restart_on_spec",
        _restart_on,
        {"file_watches": file_watches, "ui_buttons": ui_buttons},
    )


@builtin("v1alpha1.config_map_disable_source")
def config_map_disable_source(ctx: Ctx, name: object = None, key: object = None) -> dict[str, Any]:
    """A ConfigMap key that disables an object: a dict, for ``disable_source(config_map=)``.

    Args:
        name: the ConfigMap's name.
        key: the key whose value ``"true"`` disables.
    """
    return _sub(
        "v1alpha1.config_map_disable_source", _config_map_disable_source, {"name": name, "key": key}
    )


@builtin("v1alpha1.disable_source")
def disable_source(ctx: Ctx, config_map: object = None) -> dict[str, Any]:
    """What disables an object: a dict, for ``disable_source=`` arguments.

    Args:
        config_map: a ``config_map_disable_source``.
    """
    return _sub("v1alpha1.disable_source", _disable_source, {"config_map": config_map})


@builtin("v1alpha1.ignore_def")
def ignore_def(ctx: Ctx, base_path: object = None, patterns: object = None) -> dict[str, Any]:
    """Files a ``file_watch`` ignores: a dict, for ``file_watch(ignores=[...])``.

    Args:
        base_path: the folder (relative to the running load's folder).
        patterns: gitignore-style patterns below it.
    """
    return _sub(
        "v1alpha1.ignore_def", _ignore_def(ctx), {"base_path": base_path, "patterns": patterns}
    )


# --- object constructors ------------------------------------------------------------


@builtin("v1alpha1.ui_button", located=True)
def ui_button(  # noqa: PLR0917 -- Tilt's parameters
    ctx: Ctx,
    name: object,
    labels: object = None,
    annotations: object = None,
    location: object = None,
    text: object = None,
    icon_name: object = None,
    icon_svg: object = None,
    disabled: object = False,
    requires_confirmation: object = False,
    show_inputs_as_modal: object = False,
    inputs: object = None,
) -> None:
    """Registers a UIButton: a button that runs the ``cmd`` whose ``start_on`` names it.

    Validated as Tilt validates it: ``text`` and both location fields are required,
    input names are unique, each input has exactly one type, a choice input has
    choices, ``icon_svg`` contains ``<svg``. Tilt shows buttons in its web UI; here a
    button whose location is a resource is an action of that resource in the TUI
    (its details list it; a key runs it, asking for its inputs in a small form) and
    ``tilt button RESOURCE NAME [INPUT=VALUE ...]`` runs it from the command line.

    Args:
        name: the object's name.
        labels: metadata labels (a dict of strings).
        annotations: metadata annotations (a dict of strings).
        location: a ``ui_component_location`` (or a dict of its fields).
        text: the button's text.
        icon_name: a Material icon name (Tilt's web UI).
        icon_svg: an ``<svg>`` icon (Tilt's web UI).
        disabled: shown but not clickable.
        requires_confirmation: ask before running.
        show_inputs_as_modal: Tilt's web UI: inputs in a dialog.
        inputs: a list of ``ui_input_spec``.
    """
    fn = "v1alpha1.ui_button"
    obj_name, lab, ann = _meta(fn, name, labels, annotations)
    loc = _param(fn, "location", _optional(_location), location) or {}
    spec: dict[str, Any] = {
        "location": {
            "componentID": loc.get("componentID", ""),
            "componentType": loc.get("componentType", ""),
        },
        "text": _param(fn, "text", _optional(_string), text) or "",
        "iconName": _param(fn, "icon_name", _optional(_string), icon_name) or "",
        "iconSVG": _param(fn, "icon_svg", _optional(_string), icon_svg) or "",
        "disabled": _param(fn, "disabled", lambda v: _boolean(v, "disabled"), disabled),
        "requiresConfirmation": _param(
            fn,
            "requires_confirmation",
            lambda v: _boolean(v, "requires_confirmation"),
            requires_confirmation,
        ),
        "showInputsAsModal": _param(
            fn,
            "show_inputs_as_modal",
            lambda v: _boolean(v, "show_inputs_as_modal"),
            show_inputs_as_modal,
        ),
        "inputs": _param(fn, "inputs", _input_list, inputs),
    }
    errors = _name_errors(obj_name)
    if not spec["text"]:
        errors.append("spec.text: Required value: Button text cannot be empty")
    if not spec["location"]["componentID"]:
        errors.append("spec.location.componentID: Required value: Parent component ID is required")
    if not spec["location"]["componentType"]:
        errors.append(
            "spec.location.componentType: Required value: Parent component type is required"
        )
    if spec["iconSVG"] and "<svg" not in spec["iconSVG"]:
        errors.append(f"spec.iconSVG: Invalid value: {spec['iconSVG']!r}: Invalid <svg> element")
    seen: set[str] = set()
    for i, inp in enumerate(spec["inputs"]):
        iname = inp.get("name", "")
        if iname in seen:
            errors.append(f"spec.inputs[{i}].id: Duplicate value: {iname!r}")
        seen.add(iname)
        kinds = [k for k in ("text", "bool", "hidden", "choice") if k in inp]
        if "choice" in inp and not inp["choice"].get("choices"):
            errors.append(
                f"spec: Invalid value: input {iname!r}: "
                "must specify choices if input type is choice"
            )
        if len(kinds) != 1:
            errors.append(
                f"spec: Invalid value: input {iname!r}: must specify exactly one input type"
            )
    _register(ctx, "UIButton", obj_name, lab, ann, spec, errors)


@builtin("v1alpha1.cmd", located=True)
def cmd(  # noqa: PLR0917 -- Tilt's parameters
    ctx: Ctx,
    name: object,
    labels: object = None,
    annotations: object = None,
    args: object = None,
    dir: object = None,
    env: object = None,
    readiness_probe: object = None,
    restart_on: object = None,
    start_on: object = None,
    disable_source: object = None,
) -> None:
    """Registers a Cmd: a command Tilt runs, here when a ``ui_button`` it names is clicked.

    With ``start_on=start_on_spec(ui_buttons=[B])`` (or ``restart_on``) the command runs
    each time button ``B`` is clicked, with the button's inputs as environment
    variables; its output goes to the log of the resource named by the
    ``tilt.dev/resource`` annotation (else the button's resource).

    Args:
        name: the object's name.
        labels: metadata labels.
        annotations: metadata annotations (``tilt.dev/resource`` names the log's resource).
        args: the command's argv (a list of strings; no shell).
        dir: the working folder, relative to the running load's folder (default: that folder).
        env: ``KEY=VALUE`` strings added to tilt's environment.
        readiness_probe: kept in the graph (a dict), not run.
        restart_on: a ``restart_on_spec``.
        start_on: a ``start_on_spec``.
        disable_source: a ``disable_source``.
    """
    fn = "v1alpha1.cmd"
    obj_name, lab, ann = _meta(fn, name, labels, annotations)
    dir_s = _param(fn, "dir", _optional(_string), dir) or ""
    spec: dict[str, Any] = {
        "args": _param(fn, "args", _string_list, args),
        "dir": ctx.abspath(dir_s) if dir_s else ctx.dir,
        "env": _param(fn, "env", _string_list, env),
    }
    if readiness_probe is not None:
        spec["readinessProbe"] = _param(fn, "readiness_probe", _dict, readiness_probe)
    for arg, key, unpack, value in (
        ("restart_on", "restartOn", _restart_on, restart_on),
        ("start_on", "startOn", _start_on, start_on),
        ("disable_source", "disableSource", _disable_source, disable_source),
    ):
        if value is not None:
            spec[key] = _param(fn, arg, unpack, value)
    _register(ctx, "Cmd", obj_name, lab, ann, spec, _name_errors(obj_name))


@builtin("v1alpha1.config_map", located=True)
def config_map(
    ctx: Ctx, name: object, labels: object = None, annotations: object = None, data: object = None
) -> None:
    """Registers a ConfigMap (Tilt's own, not a Kubernetes object): string data by key.

    Args:
        name: the object's name.
        labels: metadata labels.
        annotations: metadata annotations.
        data: a dict of strings to strings.
    """
    fn = "v1alpha1.config_map"
    obj_name, lab, ann = _meta(fn, name, labels, annotations)
    spec = {"data": _param(fn, "data", _string_map, data)}
    _register(ctx, "ConfigMap", obj_name, lab, ann, spec, _name_errors(obj_name))


@builtin("v1alpha1.file_watch", located=True)
def file_watch(  # noqa: PLR0917 -- Tilt's parameters
    ctx: Ctx,
    name: object,
    labels: object = None,
    annotations: object = None,
    watched_paths: object = None,
    ignores: object = None,
    disable_source: object = None,
) -> None:
    """Registers a FileWatch: paths to watch (kept in the graph, for ``restart_on``).

    Args:
        name: the object's name.
        labels: metadata labels.
        annotations: metadata annotations.
        watched_paths: paths relative to the running load's folder.
        ignores: a list of ``ignore_def``.
        disable_source: a ``disable_source``.
    """
    fn = "v1alpha1.file_watch"
    obj_name, lab, ann = _meta(fn, name, labels, annotations)

    def ignore_list(v: Any) -> list[dict[str, Any]]:
        if v is None:
            return []
        if not isinstance(v, list | tuple):
            raise _Unpack(f"expected list, actual: {typename(v)}")
        return [_ignore_def(ctx)(item) for item in v]

    spec: dict[str, Any] = {
        "watchedPaths": [
            ctx.abspath(p) for p in _param(fn, "watched_paths", _string_list, watched_paths)
        ],
        "ignores": _param(fn, "ignores", ignore_list, ignores),
    }
    if disable_source is not None:
        spec["disableSource"] = _param(fn, "disable_source", _disable_source, disable_source)
    _register(ctx, "FileWatch", obj_name, lab, ann, spec, _name_errors(obj_name))


@builtin("v1alpha1.extension_repo", located=True)
def extension_repo(  # noqa: PLR0917 -- Tilt's parameters
    ctx: Ctx,
    name: object,
    labels: object = None,
    annotations: object = None,
    url: object = None,
    ref: object = None,
    load_host: object = None,
    git_subpath: object = None,
) -> None:
    """Registers an ExtensionRepo: a git repository (or a folder) of extensions.

    Register it before the ``load('ext://...')`` that uses it. A repository named
    ``default`` replaces Tilt's own (https://github.com/tilt-dev/tilt-extensions).

    Args:
        name: the repository's name (``v1alpha1.extension(repo_name=)`` refers to it).
        labels: metadata labels.
        annotations: metadata annotations.
        url: ``https://`` / ``http://`` (cloned with git), or ``file:///ABSOLUTE/PATH``
            (used in place; with ``ref``, beyond Tilt, a git repository there is cloned
            at that ref).
        ref: the branch, tag or commit to check out (default: the remote's HEAD). A
            branch (or HEAD) is updated each ``tilt up``; a tag or commit never.
        load_host: kept in the graph (Tilt's web UI).
        git_subpath: a folder inside the repository where the extensions live.
    """
    fn = "v1alpha1.extension_repo"
    obj_name, lab, ann = _meta(fn, name, labels, annotations)
    spec = {
        "url": _param(fn, "url", _optional(_string), url) or "",
        "ref": _param(fn, "ref", _optional(_string), ref) or "",
        "loadHost": _param(fn, "load_host", _optional(_string), load_host) or "",
        "gitSubpath": _param(fn, "git_subpath", _optional(_string), git_subpath) or "",
    }
    errors = _name_errors(obj_name)
    url_s = spec["url"]
    is_web = url_s.startswith(("https://", "http://"))
    is_file = url_s.startswith("file://")
    if not is_web and not is_file:
        errors.append(
            f"spec.url: Invalid value: {url_s!r}: URLs must start with http(s):// or file://"
        )
    elif is_file and not url_s.removeprefix("file://").startswith("/"):
        errors.append(
            f"spec.url: Invalid value: {url_s!r}: file:// URLs must be absolute "
            "(e.g., file:///home/user/repo)"
        )
    elif is_file and spec["gitSubpath"]:
        errors.append(
            f"spec.git_subpath: Invalid value: {spec['gitSubpath']!r}: cannot use git_subpath "
            "for file:// URL extension repositories"
        )
    _register(ctx, "ExtensionRepo", obj_name, lab, ann, spec, errors)


@builtin("v1alpha1.extension", located=True)
def extension(  # noqa: PLR0917 -- Tilt's parameters
    ctx: Ctx,
    name: object,
    labels: object = None,
    annotations: object = None,
    repo_name: object = None,
    repo_path: object = None,
    args: object = None,
) -> None:
    """Registers an Extension: ``load('ext://NAME')`` then loads ``REPO/repo_path/Tiltfile``.

    Args:
        name: the name ``ext://NAME`` refers to.
        labels: metadata labels.
        annotations: metadata annotations.
        repo_name: the ``extension_repo`` it comes from.
        repo_path: the extension's folder inside that repository.
        args: arguments for the extension (kept in the graph).
    """
    fn = "v1alpha1.extension"
    obj_name, lab, ann = _meta(fn, name, labels, annotations)
    spec = {
        "repoName": _param(fn, "repo_name", _optional(_string), repo_name) or "",
        "repoPath": _param(fn, "repo_path", _optional(_string), repo_path) or "",
        "args": _param(fn, "args", _string_list, args),
    }
    _register(ctx, "Extension", obj_name, lab, ann, spec, _name_errors(obj_name))


doc_section(
    "v1alpha1 objects and buttons",
    """
The `v1alpha1.*` builtins below register Tilt API objects, validated as Tilt validates
them (a second object of a kind with the same name is an error: `uibuttons "x" already
registered`), and kept in the graph (`api_objects` in `tilt dump tiltfile`). Sub-spec
builtins (`ui_input_spec`, `ui_text_input_spec`, `ui_bool_input_spec`,
`ui_choice_input_spec`, `ui_hidden_input_spec`, `ui_component_location`, `start_on_spec`,
`restart_on_spec`, `disable_source`, `config_map_disable_source`, `ignore_def`) return a
dict of the fields given, and a plain dict works wherever they are expected.

Extensions that build the objects as YAML and pipe them into `tilt apply -f -` through
`local()` (as Tilt's own `uibutton` extension does) work too: during a load, `tilt apply`
checks the `tilt.dev/v1alpha1` objects and adds them to the graph being loaded (a
Tiltfile's own object of the same kind and name wins). Outside a Tiltfile's `local()`,
`tilt apply` refuses (there is no API server for objects here).

**Buttons.** Tilt shows a `ui_button` in its web UI and runs the `cmd` whose `start_on`
(or `restart_on`) names it, with the button's inputs as environment variables. Here a
button located on a resource (`location={'component_type': 'resource', 'component_id':
NAME}`) is an action of that resource:

- the TUI lists it in the resource's details; `b` on a resource opens its buttons, Enter
  runs one, after asking for its inputs in a small form (text fields, checkboxes, choices;
  hidden inputs are passed as they are) and, with `requires_confirmation`, a confirmation;
- `tilt button RESOURCE NAME [INPUT=VALUE ...]` runs it from the command line through the
  running `tilt up` (inputs not given take their defaults; a choice must be one of its
  choices);
- the command runs in the `cmd`'s `dir` with tilt's environment plus the `cmd`'s `env`
  plus one variable per input (a bool input as `true_string`/`false_string`, default
  `true`/`false`); its output goes to the resource's log (the `tilt.dev/resource`
  annotation of the `cmd`, else the button's resource). A disabled button does not run.
""",
)
