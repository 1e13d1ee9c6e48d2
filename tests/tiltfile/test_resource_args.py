"""labels=, links= and trigger_mode= follow one rule in every resource builtin."""

from __future__ import annotations

from typing import Any

import pytest

from tests.tiltfile.conftest import resources_by_name

WEB_YAML = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
    "spec: {template: {spec: {containers: [{name: c, image: nginx}]}}}\n"
)
COMPOSE = "services:\n  web:\n    image: nginx\n"
FILES = {"web.yaml": WEB_YAML, "dc.yml": COMPOSE}

# Each builtin with `{arg}` where the shared argument goes.
CALLS = {
    "local_resource": "local_resource('web', 'true', {arg})\n",
    "k8s_resource": "k8s_yaml('web.yaml')\nk8s_resource('web', {arg})\n",
    "dc_resource": "docker_compose('dc.yml')\ndc_resource('web', {arg})\n",
}


@pytest.mark.parametrize("fn", sorted(CALLS))
@pytest.mark.parametrize(
    ("arg", "message"),
    [
        (
            "links=['http://foo bar']",
            'validating URL "http://foo bar": invalid character " " in host name',
        ),
        ("links=['']", 'validating URL "": url empty'),
        ("links=[1]", "for parameter 'links': item 0: got int, want a string, a link"),
        ("labels=['-x']", 'Invalid label "-x": name part must consist of alphanumeric'),
        ("labels=['team/web']", 'Invalid label "team/web": cannot contain /'),
        (
            "labels=['" + "a" * 64 + "']",
            f'Invalid label "{"a" * 64}": name part must be no more than 63 characters',
        ),
        ("trigger_mode='manual'", "for parameter 'trigger_mode': got string, want TRIGGER_MODE"),
    ],
)
def test_same_rule_everywhere(tiltfile_error: Any, fn: str, arg: str, message: str) -> None:
    rendered = tiltfile_error(CALLS[fn].format(arg=arg), FILES)
    assert f"{fn}: {message}" in rendered.splitlines()[0], rendered


@pytest.mark.parametrize("fn", sorted(CALLS))
def test_accepted_values_are_the_same(tiltfile: Any, fn: str) -> None:
    arg = "links=['localhost:8000', link('https://a.dev', 'A')], labels='front.end_1'"
    web = resources_by_name(tiltfile(CALLS[fn].format(arg=arg), FILES))["web"]
    assert [(link["url"], link["name"]) for link in web["links"]][-2:] == [
        ("http://localhost:8000", ""),
        ("https://a.dev", "A"),
    ]
    assert web["labels"] == ["front.end_1"]
