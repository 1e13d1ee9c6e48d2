"""v1alpha1.* constructors: validated as Tilt validates them, kept in the graph."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tilt.buttons import ButtonError, actions, environment
from tilt.tiltfile import load_tiltfile

FIXTURE = Path(__file__).parent / "fixtures" / "v1alpha1" / "Tiltfile"


def test_fixture_objects_in_the_graph() -> None:
    result = load_tiltfile(str(FIXTURE))
    kinds = [(o.kind, o.name) for o in result.api_objects]
    assert kinds == [
        ("Cmd", "db-seed"),
        ("Cmd", "hello"),
        ("ConfigMap", "flags"),
        ("FileWatch", "schema"),
        ("UIButton", "db-seed"),
        ("UIButton", "hello"),
    ]
    seed = next(o for o in result.api_objects if o.kind == "UIButton" and o.name == "db-seed")
    assert seed.spec["location"] == {"componentID": "db", "componentType": "resource"}
    assert seed.spec["inputs"][3] == {"name": "TOKEN", "hidden": {"value": "s3cret"}}
    assert seed.location is not None and seed.location.line == 4
    cmd = next(o for o in result.api_objects if o.kind == "Cmd" and o.name == "db-seed")
    assert cmd.spec["dir"] == str(FIXTURE.parent / "scripts")
    # sub-spec builtins return dicts of the fields given
    assert result.logs[-1] == '{"name": "X", "text": {"default_val": "d"}}'


def test_button_actions_pair_buttons_with_their_commands() -> None:
    result = load_tiltfile(str(FIXTURE))
    seed, hello = actions(result)
    assert (seed.name, seed.resource, seed.text) == ("db-seed", "db", "Seed the database")
    assert seed.requires_confirmation
    assert [(i.name, i.kind, i.default) for i in seed.inputs] == [
        ("ROWS", "text", "100"),
        ("RESET", "bool", "false"),
        ("TABLE", "choice", "users"),
        ("TOKEN", "hidden", "s3cret"),
    ]
    (cmd,) = seed.commands
    assert cmd.argv == ("sh", "-c", "echo seeding $ROWS rows of $TABLE reset=$RESET")
    assert cmd.env == ("SEED_MODE=fast",)
    assert cmd.log_resource == "db"
    assert [c.name for c in hello.commands] == ["hello"]  # through restart_on


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, {"ROWS": "100", "RESET": "no", "TABLE": "users", "TOKEN": "s3cret"}),
        (
            {"ROWS": "5", "RESET": "true", "TABLE": "orders"},
            {"ROWS": "5", "RESET": "yes", "TABLE": "orders", "TOKEN": "s3cret"},
        ),
        ({"RESET": "yes"}, {"ROWS": "100", "RESET": "yes", "TABLE": "users", "TOKEN": "s3cret"}),
    ],
)
def test_environment_from_inputs(values: dict[str, str], expected: dict[str, str]) -> None:
    seed = actions(load_tiltfile(str(FIXTURE)))[0]
    assert environment(seed, values) == expected


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"NOPE": "1"}, "no input named 'NOPE' (inputs: ROWS, RESET, TABLE, TOKEN)"),
        ({"TABLE": "carts"}, "input TABLE: 'carts' is not one of users, orders"),
        ({"RESET": "maybe"}, "input RESET wants true or false"),
        ({"TOKEN": "x"}, "input TOKEN is hidden"),
    ],
)
def test_environment_rejects_bad_values(values: dict[str, str], message: str) -> None:
    seed = actions(load_tiltfile(str(FIXTURE)))[0]
    with pytest.raises(ButtonError, match=message.replace("(", r"\(").replace(")", r"\)")):
        environment(seed, values)


BUTTON_ERRORS = [
    (
        "v1alpha1.ui_button(name='b', location=LOC)",
        "v1alpha1.ui_button: spec.text: Required value: Button text cannot be empty",
    ),
    (
        "v1alpha1.ui_button(name='b', text='t')",
        "v1alpha1.ui_button: [spec.location.componentID: Required value: Parent component ID "
        "is required, spec.location.componentType: Required value: Parent component type is "
        "required]",
    ),
    (
        "v1alpha1.ui_button(name='b', text='t', location=LOC, icon_svg='icon.svg')",
        "spec.iconSVG: Invalid value: 'icon.svg': Invalid <svg> element",
    ),
    (
        "v1alpha1.ui_button(name='b', text='t', location=LOC, inputs=[{'name': 'a'}])",
        "input 'a': must specify exactly one input type",
    ),
    (
        "v1alpha1.ui_button(name='b', text='t', location=LOC, inputs=["
        "{'name': 'a', 'choice': {'choices': []}}])",
        "input 'a': must specify choices if input type is choice",
    ),
    (
        "v1alpha1.ui_button(name='b', text='t', location=LOC, inputs=["
        "{'name': 'a', 'text': {}}, {'name': 'a', 'hidden': {'value': 'v'}}])",
        "spec.inputs[1].id: Duplicate value: 'a'",
    ),
    (
        "v1alpha1.ui_button(name='b', text='t', location=LOC, inputs=[{'name': 'a', 'txt': {}}])",
        "v1alpha1.ui_button: for parameter inputs: at index 0: Unexpected attribute name: txt",
    ),
    (
        "v1alpha1.ui_input_spec(name='a', bool={'default_val': 'yes'})",
        "v1alpha1.ui_input_spec: unpacking bool: unpacking default_val: expected bool, "
        "actual: string",
    ),
    (
        "v1alpha1.ui_button(name='b', text='t', location=LOC)\n"
        "v1alpha1.ui_button(name='b', text='u', location=LOC)",
        'v1alpha1.ui_button: uibuttons "b" already registered',
    ),
    ("v1alpha1.cmd(name='a/b', args=['true'])", "metadata.name: Invalid value: 'a/b'"),
    ("v1alpha1.cmd(name='c', args=[1])", "v1alpha1.cmd: for parameter args: value should"),
    ("v1alpha1.config_map(name='c', data={'k': 1})", "v1alpha1.config_map: for parameter data"),
    (
        "v1alpha1.cmd(name='c', start_on={'buttons': ['x']})",
        "v1alpha1.cmd: for parameter start_on: Unexpected attribute name: buttons",
    ),
]


@pytest.mark.parametrize(("call", "message"), BUTTON_ERRORS)
def test_validation_errors(tiltfile_error: Any, call: str, message: str) -> None:
    text = "LOC = {'component_type': 'resource', 'component_id': 'r'}\n" + call + "\n"
    msg = tiltfile_error(text)
    assert message in msg.splitlines()[0], msg


def test_button_on_an_unknown_resource_is_kept_but_not_an_action(tiltfile: Any) -> None:
    data = tiltfile(
        "v1alpha1.ui_button(name='b', text='t', "
        "location={'component_type': 'resource', 'component_id': 'nope'})\n"
        "v1alpha1.ui_button(name='g', text='t', "
        "location={'component_type': 'global', 'component_id': 'nav'})\n"
    )
    assert [o["name"] for o in data["api_objects"]] == ["b", "g"]
    result = load_tiltfile("Tiltfile")
    assert actions(result) == ()
