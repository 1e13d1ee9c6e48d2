"""TargetMatcher: one matcher per target, table-driven."""

from __future__ import annotations

import pytest

from tilt.model import IgnoreRule, WatchSpec
from tilt.watch.matcher import BUILTIN_IGNORES, Decision, TargetMatcher

R = "/repo"
TILTIGNORE = [
    IgnoreRule(pattern="node_modules", base_dir=R, origin="/repo/.tiltignore:3"),
    IgnoreRule(pattern="/build/*", base_dir=R, origin="/repo/.tiltignore:4"),
    IgnoreRule(pattern="logs/", base_dir=R, origin="/repo/.tiltignore:5"),
    IgnoreRule(pattern="*.log", base_dir=R, origin="/repo/.tiltignore:6"),
    IgnoreRule(pattern="!keep.log", base_dir=R, origin="/repo/.tiltignore:7"),
]
WATCH_SETTINGS = [
    IgnoreRule(pattern="tmp/**", base_dir=R, origin="Tiltfile:2 watch_settings(ignore=)"),
]
OWN = [
    IgnoreRule(pattern="src/gen", base_dir=R, origin="Tiltfile:9 local_resource(ignore=)"),
    IgnoreRule(pattern="!/build/wanted", base_dir=R, origin="Tiltfile:9 local_resource(ignore=)"),
    IgnoreRule(
        pattern="/repo/abs/skip.txt", base_dir=R, origin="Tiltfile:9 local_resource(ignore=)"
    ),
]


def matcher(**kw: object) -> TargetMatcher:
    spec = WatchSpec(
        paths=(f"{R}/src", f"{R}/build", f"{R}/tmp", f"{R}/abs", f"{R}/app.py"),
        ignores=tuple(OWN),
    )
    return TargetMatcher.from_spec(spec, [*TILTIGNORE, *WATCH_SETTINGS], **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("path", "included", "reason"),
    [
        ("/repo/src/main.py", True, "under watched path /repo/src"),
        ("/repo/app.py", True, "under watched path /repo/app.py"),
        ("/repo/app.pyc", False, "not under any watched path"),
        ("/repo/other/x.py", False, "not under any watched path"),
        ("/elsewhere/src/main.py", False, "not under any watched path"),
        # .tiltignore, with line numbers
        ("/repo/src/node_modules/a/b.js", False, 'ignored by "node_modules" (/repo/.tiltignore:3)'),
        ("/repo/src/node_modules", False, 'ignored by "node_modules" (/repo/.tiltignore:3)'),
        ("/repo/build/out.o", False, 'ignored by "/build/*" (/repo/.tiltignore:4)'),
        (
            "/repo/build/wanted/x",
            True,
            're-included by "!/build/wanted" (Tiltfile:9 local_resource(ignore=))',
        ),
        ("/repo/build/other/x", False, 'ignored by "/build/*" (/repo/.tiltignore:4)'),
        ("/repo/src/build/x.py", True, "under watched path /repo/src"),  # anchored at the base
        ("/repo/src/logs/today.txt", False, 'ignored by "logs/" (/repo/.tiltignore:5)'),
        ("/repo/src/logs", True, "under watched path /repo/src"),  # "logs/" is directories only
        ("/repo/src/a.log", False, 'ignored by "*.log" (/repo/.tiltignore:6)'),
        ("/repo/src/keep.log", True, 're-included by "!keep.log" (/repo/.tiltignore:7)'),
        # as in git, nothing inside an ignored directory can be re-included
        ("/repo/src/logs/keep.log", False, 'ignored by "logs/" (/repo/.tiltignore:5)'),
        (
            "/repo/src/node_modules/keep.log",
            False,
            'ignored by "node_modules" (/repo/.tiltignore:3)',
        ),
        # watch_settings(ignore=)
        ("/repo/tmp/x/y", False, 'ignored by "tmp/**" (Tiltfile:2 watch_settings(ignore=))'),
        # the target's own ignore=, which comes last and so wins
        ("/repo/src/gen/a.py", False, 'ignored by "src/gen" (Tiltfile:9 local_resource(ignore=))'),
        (
            "/repo/build/wanted",
            True,
            're-included by "!/build/wanted" (Tiltfile:9 local_resource(ignore=))',
        ),
        (
            "/repo/abs/skip.txt",
            False,
            'ignored by "/repo/abs/skip.txt" (Tiltfile:9 local_resource(ignore=))',
        ),
        ("/repo/abs/other.txt", True, "under watched path /repo/abs"),
        # built-in droppings
        ("/repo/src/.main.py.swp", False, 'ignored by "*.swp" (built-in)'),
        ("/repo/src/.main.py.swx", False, 'ignored by "*.swx" (built-in)'),
        ("/repo/src/4913", False, 'ignored by "4913" (built-in)'),
        ("/repo/src/#main.py#", False, 'ignored by "\\#*#" (built-in)'),
        ("/repo/src/.#main.py", False, 'ignored by ".#*" (built-in)'),
        ("/repo/src/main.py~", False, 'ignored by "*~" (built-in)'),
        ("/repo/src/main.py___jb_tmp___", False, 'ignored by "*___jb_tmp___" (built-in)'),
        ("/repo/src/main.py___jb_old___", False, 'ignored by "*___jb_old___" (built-in)'),
        ("/repo/src/.DS_Store", False, 'ignored by ".DS_Store" (built-in)'),
        ("/repo/src/.git/index", False, 'ignored by ".git" (built-in)'),
        ("/repo/src/.git", False, 'ignored by ".git" (built-in)'),
        ("/repo/src/.github/workflow.yml", True, "under watched path /repo/src"),
        ("/repo/src/x.swpx", True, "under watched path /repo/src"),
        # unnormalized input
        ("/repo/src/./sub/../main.py", True, "under watched path /repo/src"),
    ],
)
def test_explain_and_matches(path: str, included: bool, reason: str) -> None:
    m = matcher()
    d = m.explain(path)
    assert d == Decision(included=included, rule=d.rule, reason=reason)
    assert m.matches(path) is included


def test_builtin_can_be_turned_off() -> None:
    m = matcher(builtin=False)
    assert m.matches("/repo/src/.main.py.swp")
    assert m.matches("/repo/src/.git/index")
    assert all(r.origin == "built-in" and r.base_dir == "/" for r in BUILTIN_IGNORES)


def test_later_rules_win() -> None:
    rules = [
        IgnoreRule(pattern="*.txt", base_dir=R, origin="a"),
        IgnoreRule(pattern="!important.txt", base_dir=R, origin="b"),
        IgnoreRule(pattern="secret/", base_dir=R, origin="c"),
    ]
    m = TargetMatcher(paths=[R], ignores=rules)
    assert not m.matches("/repo/a.txt")
    assert m.matches("/repo/important.txt")
    assert not m.matches("/repo/secret/important.txt")  # the later "secret/" wins
    assert m.explain("/repo/secret/important.txt").rule == rules[2]


@pytest.mark.parametrize(
    ("path", "included"),
    [
        ("/ctx/src/a.py", True),
        ("/ctx/src/deep/b.py", True),
        ("/ctx/package.json", True),
        ("/ctx/README.md", False),
        ("/ctx/src/node_modules/x", False),
        ("/ctx/srcx/a.py", False),
    ],
)
def test_only_rules(path: str, included: bool) -> None:
    spec = WatchSpec(
        paths=("/ctx",),
        ignores=(IgnoreRule(pattern="node_modules", base_dir="/ctx", origin="i"),),
        only=(
            IgnoreRule(pattern="src", base_dir="/ctx", origin="only"),
            IgnoreRule(pattern="package.json", base_dir="/ctx", origin="only"),
        ),
    )
    m = TargetMatcher.from_spec(spec)
    assert m.matches(path) is included
    assert m.explain(path).included is included


@pytest.mark.parametrize(
    ("dirpath", "prunes"),
    [
        ("/repo/src", False),
        ("/repo/src/sub", False),
        ("/repo", False),  # an ancestor of watched paths
        ("/", False),
        ("/repo/other", True),  # outside every watched path
        ("/elsewhere", True),
        ("/repo/src/node_modules", True),
        ("/repo/src/node_modules/pkg/lib", True),
        ("/repo/src/.git", True),
        ("/repo/src/logs", True),
        ("/repo/tmp/x", True),
        ("/repo/tmp", True),  # everything below it is ignored by "tmp/**"
        ("/repo/src/gen", True),
        # "/build/*" ignores what is in build, and "!/build/wanted" re-includes one
        ("/repo/build", False),
        ("/repo/build/wanted", False),
        ("/repo/build/other", True),
        # a directory called x.log is ignored by "*.log", whatever "!keep.log" says
        ("/repo/src/x.log", True),
    ],
)
def test_prunes_dir(dirpath: str, prunes: bool) -> None:
    m = matcher()
    assert m.prunes_dir(dirpath) is prunes
    assert m.prunes_dir(dirpath) is prunes  # cached


def test_pruned_dir_means_nothing_below_matches() -> None:
    m = matcher()
    for d in ["/repo/src/node_modules", "/repo/build/other", "/repo/other", "/repo/tmp"]:
        assert m.prunes_dir(d)
        for leaf in ["a", "b/c.py", "keep.log", "wanted"]:
            assert not m.matches(f"{d}/{leaf}")
            assert not m.explain(f"{d}/{leaf}").included


def test_only_prunes_unrelated_dirs() -> None:
    spec = WatchSpec(
        paths=("/ctx",),
        only=(IgnoreRule(pattern="src/app", base_dir="/ctx", origin="only"),),
    )
    m = TargetMatcher.from_spec(spec)
    assert m.prunes_dir("/ctx/docs")
    assert not m.prunes_dir("/ctx/src")
    assert not m.prunes_dir("/ctx/src/app/x")
    assert not m.prunes_dir("/ctx")


def test_matches_many_paths() -> None:
    m = matcher()
    paths = [f"/repo/src/node_modules/pkg{i % 50}/f{i}.js" for i in range(10_000)]
    paths += [f"/repo/src/pkg{i % 50}/f{i}.py" for i in range(10_000)]
    results = [m.matches(p) for p in paths]
    assert results.count(True) == 10_000
