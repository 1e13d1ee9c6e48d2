"""k8s_quiet_events (beyond Tilt): event reasons kept out of the log and the status."""

from __future__ import annotations

from typing import Any

from tilt.k8s.events import QuietRules


def deployment(name: str) -> str:
    return (
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n"
        f"  selector:\n    matchLabels: {{app: {name}}}\n  template:\n"
        f"    metadata:\n      labels: {{app: {name}}}\n"
        f"    spec:\n      containers:\n      - name: app\n        image: {name}\n"
    )


APPS = {"app.yaml": deployment("web") + "---\n" + deployment("api")}


def test_quiet_events_global_and_per_resource(tiltfile: Any) -> None:
    data = tiltfile(
        "k8s_yaml('app.yaml')\n"
        "k8s_quiet_events('Unhealthy')\n"
        "k8s_quiet_events(['BackOff', 'Pulling'], resources=['web', 'api'])\n"
        "k8s_quiet_events('Unhealthy')\n",
        files=APPS,
    )
    pairs = [tuple(p) for p in data["settings"]["k8s_quiet_events"]]
    assert pairs == [
        ("", "Unhealthy"),
        ("web", "BackOff"),
        ("web", "Pulling"),
        ("api", "BackOff"),
        ("api", "Pulling"),
    ]
    rules = QuietRules.from_pairs(pairs)  # type: ignore[arg-type]
    assert rules.quiet("anything", "Unhealthy")
    assert rules.quiet("web", "BackOff") and not rules.quiet("db", "BackOff")


def test_quiet_events_bad_argument_names_the_parameter(tiltfile_error: Any) -> None:
    msg = tiltfile_error("k8s_quiet_events(3)\n")
    assert "k8s_quiet_events: for parameter 'reasons'" in msg
    assert "Tiltfile:1" in msg


def test_the_docs_example_loads(tiltfile: Any) -> None:
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "kubernetes.md").read_text()
    block = doc.split("**Silencing**", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    data = tiltfile("k8s_yaml('app.yaml')\n" + block, files=APPS)
    assert [tuple(p) for p in data["settings"]["k8s_quiet_events"]] == [
        ("web", "Unhealthy"),
        ("", "Pulling"),
        ("", "Pulled"),
    ]


def test_an_unknown_resource_is_named_with_its_line(tiltfile_error: Any) -> None:
    msg = tiltfile_error(
        "k8s_yaml('app.yaml')\n\nk8s_quiet_events('BackOff', resources=['wbe'])\n", files=APPS
    )
    assert "k8s_quiet_events: no Kubernetes resource named 'wbe' (did you mean 'web'?)" in msg
    assert "Tiltfile:3" in msg
