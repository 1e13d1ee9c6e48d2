"""`tilt why PATH`: per target, IN or OUT and the rule that decided, through the real CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_tilt, write_tree
from tilt.commands.why import explain_path
from tilt.tiltfile import load_tiltfile

TILTFILE = """\
docker_build('svc-a', 'a')
docker_build('svc-b', 'b', only=['src'])
custom_build('svc-c', 'true', ['c'], ignore=['*.gen'])
docker_build('svc-d', 'd', dockerfile='docker/d.Dockerfile', ignore=['logs'])
k8s_yaml(blob('''
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: a, image: svc-a}
      - {name: b, image: svc-b}
      - {name: c, image: svc-c}
      - {name: d, image: svc-d}
'''))
local_resource('lint', 'echo lint', deps=['.'], ignore=['**/*.md'])
watch_settings(ignore=['**/*.tmp'])
"""

FILES = {
    "Tiltfile": TILTFILE,
    ".tiltignore": "# scratch space\ncache/\n",
    "a/Dockerfile": "FROM scratch\nCOPY . /\n",
    "a/.dockerignore": "node_modules\n",
    "b/Dockerfile": "FROM scratch\nCOPY src /src\n",
    "docker/d.Dockerfile": "FROM scratch\n",
    "c/gen.sh": "true\n",
    "d/app.txt": "d\n",
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return write_tree(tmp_path, FILES)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (
            "a/node_modules/x/index.js",
            {
                ("image svc-a", "watch"): (
                    False,
                    'ignored by "/node_modules" ({r}/a/.dockerignore:1)',
                ),
                ("image svc-a", "build context"): (
                    False,
                    'ignored by "/node_modules" ({r}/a/.dockerignore:1)',
                ),
                ("local_resource lint", "watch"): (True, "under watched path {r}"),
            },
        ),
        (
            "a/cache/blob",
            {
                # .tiltignore stops the watch, not the build context (as in Tilt).
                ("image svc-a", "watch"): (False, 'ignored by "cache/" ({r}/.tiltignore:2)'),
                ("image svc-a", "build context"): (True, "under watched path {r}/a"),
                ("local_resource lint", "watch"): (
                    False,
                    'ignored by "cache/" ({r}/.tiltignore:2)',
                ),
            },
        ),
        (
            "b/main.go",
            {
                ("image svc-b", "watch"): (False, "not matched by any only= rule"),
                ("image svc-a", "watch"): (False, "not under any watched path"),
            },
        ),
        (
            "b/src/main.go",
            {
                ("image svc-b", "watch"): (
                    True,
                    'matched by only "/src" ({r}/Tiltfile:2 docker_build(only=))',
                ),
            },
        ),
        (
            "c/out.gen",
            {
                ("image svc-c", "watch"): (
                    False,
                    'ignored by "/*.gen" ({r}/Tiltfile:3 custom_build(ignore=))',
                ),
            },
        ),
        (
            "docker/d.Dockerfile",
            {
                ("image svc-d", "watch"): (True, "under watched path {r}/docker/d.Dockerfile"),
                ("image svc-d", "build context"): (True, "the Dockerfile is always sent"),
            },
        ),
        (
            "d/logs/today.txt",
            {
                ("image svc-d", "watch"): (
                    False,
                    'ignored by "/logs" ({r}/Tiltfile:4 docker_build(ignore=))',
                ),
            },
        ),
        (
            "d/x.tmp",
            {
                ("image svc-d", "watch"): (
                    False,
                    'ignored by "**/*.tmp" ({r}/Tiltfile:22 watch_settings(ignore=))',
                ),
                ("image svc-d", "build context"): (True, "under watched path {r}/d"),
            },
        ),
        (
            ".git/HEAD",
            {("local_resource lint", "watch"): (False, 'ignored by ".git" (built-in)')},
        ),
    ],
)
def test_explain_path_names_the_deciding_rule(
    repo: Path, path: str, expected: dict[tuple[str, str], tuple[bool, str]]
) -> None:
    result = load_tiltfile(str(repo / "Tiltfile"))
    verdicts = explain_path(result, str(repo / path))
    got = {(v.target.split(" (")[0], v.aspect): (v.included, v.reason) for v in verdicts}
    for key, (included, reason) in expected.items():
        assert got[key] == (included, reason.format(r=repo)), key


def test_cli_prints_every_target_and_what_a_change_triggers(repo: Path) -> None:
    proc = run_tilt("why", "a/main.go", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith(f"{repo}/a/main.go\n")
    for target in ("image svc-a", "image svc-b", "image svc-c", "image svc-d"):
        assert f"\n{target} (" in out
    assert "(used by web)" in out
    assert "  watch:         IN   under watched path" in out
    assert out.rstrip().endswith("A change to this path triggers: image svc-a; local_resource lint")

    nothing = run_tilt("why", "notes.md", cwd=repo)
    assert nothing.returncode == 0, nothing.stderr
    assert 'ignored by "**/*.md"' in nothing.stdout
    assert nothing.stdout.rstrip().endswith("A change to this path triggers nothing.")


def test_cli_reports_a_broken_tiltfile(tmp_path: Path) -> None:
    write_tree(tmp_path, {"Tiltfile": "docker_build('x', 'missing-dir')\n"})
    proc = run_tilt("why", "a.txt", cwd=tmp_path)
    assert proc.returncode == 1
    assert "Tiltfile:1" in proc.stderr
    assert 'context "missing-dir" does not exist' in proc.stderr
    assert "Traceback" not in proc.stderr


def test_why_covers_the_build_context_of_a_service_compose_builds(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "Tiltfile": "docker_compose('compose.yaml')\n",
            "compose.yaml": "services:\n  web:\n    build: ./web\n",
            "web/Dockerfile": "FROM scratch\n",
            "web/.dockerignore": "*.log\n",
            "web/a.txt": "",
            "web/b.log": "",
        },
    )
    inside = run_tilt("why", "web/a.txt", cwd=tmp_path)
    assert inside.returncode == 0, inside.stderr
    assert "docker_compose service web (Tiltfile:1)" in inside.stdout
    assert "A change to this path triggers: docker_compose service web" in inside.stdout
    ignored = run_tilt("why", "web/b.log", cwd=tmp_path)
    assert 'OUT  ignored by "/*.log"' in ignored.stdout
    assert "triggers nothing" in ignored.stdout
