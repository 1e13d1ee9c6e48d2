"""Buttons: a resource's ``v1alpha1.ui_button`` actions and how one runs.

Tilt runs a button's command through its API objects: clicking a ``UIButton`` starts
each ``Cmd`` whose ``start_on`` (or ``restart_on``) names the button, with the button's
inputs added to the command's environment. Here the loader keeps those objects in the
graph (`TiltfileResult.api_objects`); `actions` pairs each button located on a resource
with its commands, and `environment` turns the values a user gave into the variables the
command sees. The engine runs the commands (`Engine.run_button`); the TUI and
``tilt button`` only pick a button and its input values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tilt.model import ApiObject, TiltfileResult

__all__ = ["ButtonAction", "ButtonCommand", "ButtonError", "ButtonInput", "actions", "environment"]


class ButtonError(Exception):
    """A button that cannot run as asked (unknown name, bad input value, disabled)."""


@dataclass(frozen=True, kw_only=True)
class ButtonInput:
    """One input of a button: ``kind`` is ``text``, ``bool``, ``choice`` or ``hidden``."""

    name: str
    label: str
    kind: str
    default: str  # text: the default; bool: "true"/"false"; choice: the first; hidden: the value
    placeholder: str = ""
    choices: tuple[str, ...] = ()
    true_string: str = "true"
    false_string: str = "false"


@dataclass(frozen=True, kw_only=True)
class ButtonCommand:
    """A ``v1alpha1.cmd`` a button starts."""

    name: str
    argv: tuple[str, ...]
    dir: str
    env: tuple[str, ...]  # KEY=VALUE
    log_resource: str


@dataclass(frozen=True, kw_only=True)
class ButtonAction:
    """A button located on a resource, and the commands it starts."""

    name: str
    resource: str
    text: str
    inputs: tuple[ButtonInput, ...] = ()
    commands: tuple[ButtonCommand, ...] = ()
    disabled: bool = False
    requires_confirmation: bool = False


def _input(spec: Mapping[str, Any]) -> ButtonInput:
    name = str(spec.get("name", ""))
    label = str(spec.get("label", "")) or name
    if "text" in spec:
        text = spec["text"]
        return ButtonInput(
            name=name,
            label=label,
            kind="text",
            default=str(text.get("defaultValue", "")),
            placeholder=str(text.get("placeholder", "")),
        )
    if "bool" in spec:
        b = spec["bool"]
        return ButtonInput(
            name=name,
            label=label,
            kind="bool",
            default="true" if b.get("defaultValue") else "false",
            true_string=str(b.get("trueString", "true")),
            false_string=str(b.get("falseString", "false")),
        )
    if "choice" in spec:
        choices = tuple(str(c) for c in spec["choice"].get("choices", ()))
        return ButtonInput(
            name=name, label=label, kind="choice", default=choices[0], choices=choices
        )
    return ButtonInput(
        name=name, label=label, kind="hidden", default=str(spec["hidden"].get("value", ""))
    )


def actions(result: TiltfileResult) -> tuple[ButtonAction, ...]:
    """Every button located on a resource of ``result``, in declaration order."""
    buttons = [o for o in result.api_objects if o.kind == "UIButton"]
    cmds = [o for o in result.api_objects if o.kind == "Cmd"]
    names = {r.name for r in result.resources}
    out = []
    for b in buttons:
        loc = b.spec.get("location", {})
        resource = str(loc.get("componentID", ""))
        if str(loc.get("componentType", "")).lower() != "resource" or resource not in names:
            continue
        out.append(
            ButtonAction(
                name=b.name,
                resource=resource,
                text=str(b.spec.get("text", "")),
                inputs=tuple(_input(i) for i in b.spec.get("inputs", ())),
                commands=tuple(_command(c, resource) for c in cmds if _starts(c, b.name)),
                disabled=bool(b.spec.get("disabled")),
                requires_confirmation=bool(b.spec.get("requiresConfirmation")),
            )
        )
    return tuple(out)


def _starts(cmd: ApiObject, button: str) -> bool:
    for key in ("startOn", "restartOn"):
        on = cmd.spec.get(key) or {}
        if button in on.get("uiButtons", ()):
            return True
    return False


def _command(cmd: ApiObject, resource: str) -> ButtonCommand:
    return ButtonCommand(
        name=cmd.name,
        argv=tuple(cmd.spec.get("args", ())),
        dir=str(cmd.spec.get("dir", "")),
        env=tuple(cmd.spec.get("env", ())),
        log_resource=cmd.annotations.get("tilt.dev/resource", "") or resource,
    )


def environment(action: ButtonAction, values: Mapping[str, str]) -> dict[str, str]:
    """The variables a button's command gets: one per input, from ``values`` or defaults.

    Raises:
        ButtonError: an unknown input name, a hidden input given a value, a bool that is
            not true/false, a choice that is not one of its choices.
    """
    by_name = {i.name: i for i in action.inputs}
    for key in values:
        if key not in by_name:
            known = ", ".join(by_name) or "none"
            raise ButtonError(f"button {action.name}: no input named {key!r} (inputs: {known})")
    env: dict[str, str] = {}
    for inp in action.inputs:
        given = values.get(inp.name)
        if inp.kind == "hidden":
            if given is not None and given != inp.default:
                raise ButtonError(f"button {action.name}: input {inp.name} is hidden (fixed)")
            env[inp.name] = inp.default
        elif inp.kind == "bool":
            raw = (given if given is not None else inp.default).lower()
            if raw in ("true", "1", "yes", "on", inp.true_string.lower()):
                env[inp.name] = inp.true_string
            elif raw in ("false", "0", "no", "off", inp.false_string.lower()):
                env[inp.name] = inp.false_string
            else:
                raise ButtonError(f"button {action.name}: input {inp.name} wants true or false")
        elif inp.kind == "choice":
            value = given if given is not None else inp.default
            if value not in inp.choices:
                raise ButtonError(
                    f"button {action.name}: input {inp.name}: {value!r} is not one of "
                    + ", ".join(inp.choices)
                )
            env[inp.name] = value
        else:
            env[inp.name] = given if given is not None else inp.default
    return env
