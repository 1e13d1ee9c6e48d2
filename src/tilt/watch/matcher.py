"""One matcher per target: does this path matter to it, and if not, why not.

A `TargetMatcher` is built from a target's `tilt.model.WatchSpec` (its watched
paths, its own ``ignore=`` rules and docker_build's ``only=``) plus the rules
every target shares (the root ``.tiltignore`` and ``watch_settings(ignore=)``,
passed as ``extra_ignores``) and the built-in rules for editor and tool
droppings (`BUILTIN_IGNORES`). The same matcher decides for file watching and
for image build contexts, so what is ignored is ignored everywhere.

Patterns are gitignore ("gitwildmatch") patterns relative to their rule's
``base_dir``: ``node_modules`` matches at any depth, ``/build`` only at the
base, ``logs/`` only a directory, ``!keep.txt`` re-includes. The rules form
one ordered list - built-in, then ``extra_ignores``, then the target's own -
and, as in gitignore, the last rule that matches a path decides, so a
target's ``!pattern`` can re-include what ``.tiltignore`` ignores. Also as in
gitignore, a path inside an ignored directory is ignored whatever later rules
say ("it is not possible to re-include a file if a parent directory of that
file is excluded"): write ``/build/*`` and ``!/build/keep`` rather than
``/build`` and ``!/build/keep``. Directories are checked from the watched path
down, so a rule never hides a whole project because of a folder above it. A
pattern that is an absolute path under its base directory is taken as that
path.

`TargetMatcher.prunes_dir` tells a watcher (or a build-context walker) that
nothing below a directory can ever match, so it need not descend into it: the
directory is outside every watched path (and holds none), it is ignored, or
no ``only`` rule can reach into it. Directory decisions are cached, which
makes `TargetMatcher.matches` cost one dictionary look-up for a path in an
ignored tree.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

from tilt.model import IgnoreRule, WatchSpec

__all__ = ["BUILTIN_IGNORES", "Decision", "TargetMatcher", "compile_pattern"]

_BUILTIN = "built-in"

#: Editor and tool droppings no target ever wants to react to.
BUILTIN_IGNORES: tuple[IgnoreRule, ...] = tuple(
    IgnoreRule(pattern=p, base_dir="/", origin=_BUILTIN)
    for p in (
        # vim: swap files and the "4913" file it writes to test a directory.
        "*.swp",
        "*.swo",
        "*.swx",
        "4913",
        # emacs: auto-save #file# and lock .#file (a leading # starts a comment).
        "\\#*#",
        ".#*",
        # backups of many editors
        "*~",
        # JetBrains "safe write" temporaries
        "*___jb_tmp___",
        "*___jb_old___",
        ".DS_Store",
        # .git as a directory, and as the file a worktree or submodule has.
        ".git",
    )
)

_GLOB_CHARS = re.compile(r"[*?\[\\]")


def compile_pattern(pattern: str) -> tuple[re.Pattern[str] | None, bool]:
    """Compile one gitwildmatch pattern.

    Args:
        pattern: The pattern, possibly starting with ``!``.

    Returns:
        ``(regex, include)``: the regex (``None`` for a pattern that matches
        nothing, such as a comment) is matched with ``re.match`` against a path
        relative to the rule's base (``/``-separated, a directory with a
        trailing ``/``); ``include`` is False for a ``!`` negation.
    """
    try:  # pathspec >= 1.0
        from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern as _Pattern
    except ImportError:  # pragma: no cover - pathspec 0.12
        from pathspec.patterns import (  # type: ignore[attr-defined, assignment, unused-ignore]
            GitWildMatchPattern as _Pattern,
        )
    compiled = _Pattern(pattern)
    regex = compiled.regex
    if regex is None or compiled.include is None:
        return None, True
    return regex, bool(compiled.include)


@dataclass(frozen=True, kw_only=True)
class Decision:
    """Why a path counts for a target or not.

    Attributes:
        included: Whether the path matters to the target.
        rule: The rule that decided, if a rule did.
        reason: A sentence for people, e.g.
            ``ignored by "node_modules" (/repo/.tiltignore:3)``.
    """

    included: bool
    rule: IgnoreRule | None
    reason: str


class _Rule:
    """A compiled `IgnoreRule`."""

    __slots__ = ("anchor", "base", "include", "prefix", "regex", "rule")

    def __init__(self, rule: IgnoreRule) -> None:
        self.rule = rule
        base = _norm(rule.base_dir)
        pattern = rule.pattern
        negated = pattern.startswith("!")
        body = pattern[1:] if negated else pattern
        # An absolute path under the base is that path, not an anchored pattern.
        if body.startswith("/") and base != "/" and (body == base or body.startswith(base + "/")):
            body = "/" + body[len(base) + 1 :]
            pattern = ("!" if negated else "") + body
        self.base = base
        self.prefix = "/" if base == "/" else base + "/"
        regex, include = compile_pattern(pattern)
        self.regex = regex
        self.include = include
        # Where below the base this pattern can match at all: a floating pattern
        # (no inner slash) anywhere; an anchored one only under its literal
        # leading directories. Used to decide what may be pruned.
        stripped = body.rstrip("/")
        anchored = "/" in stripped
        if anchored:
            literal: list[str] = []
            for part in stripped.lstrip("/").split("/"):
                if _GLOB_CHARS.search(part):
                    break
                literal.append(part)
            self.anchor = os.path.join(base, *literal) if literal else base
        else:
            self.anchor = base

    def rel(self, path: str) -> str | None:
        if path.startswith(self.prefix):
            return path[len(self.prefix) :]
        return None

    def matches(self, path: str, *, is_dir: bool = False) -> bool:
        if self.regex is None:
            return False
        rel = self.rel(path)
        if not rel:
            return False
        return self.regex.match(rel + "/" if is_dir else rel) is not None

    def could_match_below(self, dirpath: str) -> bool:
        """Whether this rule might match some path below ``dirpath``."""
        return self.regex is not None and _related(self.anchor, dirpath)


def _norm(path: str) -> str:
    return os.path.normpath(path) if path else path


def _under(path: str, root: str) -> bool:
    """``path`` is ``root`` or below it."""
    if root == "/":
        return path.startswith("/")
    return path == root or path.startswith(root + "/")


def _related(a: str, b: str) -> bool:
    return _under(a, b) or _under(b, a)


def _describe(verb: str, rule: IgnoreRule) -> str:
    return f'{verb} "{rule.pattern}" ({rule.origin})'


_DIR_CACHE_MAX = 50_000
_MISSING = object()


class TargetMatcher:
    """Decides which paths matter to one target; build with `from_spec`."""

    def __init__(
        self,
        *,
        paths: Sequence[str],
        ignores: Sequence[IgnoreRule],
        only: Sequence[IgnoreRule] = (),
    ) -> None:
        self.paths: tuple[str, ...] = tuple(_norm(p) for p in paths)
        self._rules = tuple(_Rule(r) for r in ignores)
        self._only = tuple(_Rule(r) for r in only)
        self._dir_cache: dict[str, _Rule | None] = {}

    @classmethod
    def from_spec(
        cls,
        spec: WatchSpec,
        extra_ignores: Sequence[IgnoreRule] = (),
        *,
        builtin: bool = True,
    ) -> TargetMatcher:
        """The matcher of one target.

        Args:
            spec: The target's watched paths, ignores and ``only`` rules.
            extra_ignores: Rules shared by every target (``.tiltignore``,
                ``watch_settings(ignore=)``); the target's own rules come after
                them, so they win.
            builtin: Start with `BUILTIN_IGNORES`.

        Returns:
            The compiled matcher.
        """
        rules = (*(BUILTIN_IGNORES if builtin else ()), *extra_ignores, *spec.ignores)
        return cls(paths=spec.paths, ignores=rules, only=spec.only)

    @staticmethod
    def _last_match(rules: Sequence[_Rule], path: str, *, is_dir: bool = False) -> _Rule | None:
        for r in reversed(rules):
            if r.matches(path, is_dir=is_dir):
                return r
        return None

    def _outer_root(self, path: str) -> str | None:
        best: str | None = None
        for p in self.paths:
            if _under(path, p) and (best is None or len(p) < len(best)):
                best = p
        return best

    def _excluding_dir(self, d: str, root: str) -> _Rule | None:
        """The rule that ignores directory ``d`` or one of its ancestors up to ``root``."""
        cached = self._dir_cache.get(d, _MISSING)
        if cached is not _MISSING:
            return cached  # type: ignore[return-value]
        result: _Rule | None = None
        if d != root:
            result = self._excluding_dir(d.rpartition("/")[0] or "/", root)
        if result is None:
            r = self._last_match(self._rules, d, is_dir=True)
            if r is not None and r.include:
                result = r
        if len(self._dir_cache) >= _DIR_CACHE_MAX:
            self._dir_cache.clear()
        self._dir_cache[d] = result
        return result

    def _decide(self, path: str) -> tuple[bool, _Rule | None, str]:
        """``(included, rule, kind)``; kind names the reason for `explain`."""
        root = self._outer_root(path)
        if root is None:
            return False, None, "outside"
        if path != root:
            excluded_by = self._excluding_dir(path.rpartition("/")[0] or "/", root)
            if excluded_by is not None:
                return False, excluded_by, "ignored"
        rule = self._last_match(self._rules, path)
        if rule is not None and rule.include:
            return False, rule, "ignored"
        if self._only:
            only = self._last_match(self._only, path)
            if only is None or not only.include:
                return False, only, "not-only"
            if rule is None:
                return True, only, "only"
        if rule is not None:
            return True, rule, "re-included"
        return True, None, root

    def matches(self, path: str) -> bool:
        """Whether a change to ``path`` (absolute) matters to this target.

        True when the path is one of the watched paths or below one, no rule
        ignores it or a directory above it, and (when there are ``only``
        rules) an ``only`` rule takes it.
        """
        if "/." in path or "//" in path:
            path = _norm(path)
        return self._decide(path)[0]

    def explain(self, path: str) -> Decision:
        """Which rule decides for ``path``, and why (for `tilt why`-style output).

        Args:
            path: An absolute path.

        Returns:
            The decision; ``included`` always agrees with `matches`.
        """
        included, rule, kind = self._decide(_norm(path))
        ir = rule.rule if rule is not None else None
        if kind == "outside":
            reason = "not under any watched path"
        elif kind == "ignored":
            assert ir is not None
            reason = _describe("ignored by", ir)
        elif kind == "not-only":
            reason = "not matched by any only= rule"
        elif kind == "only":
            assert ir is not None
            reason = _describe("matched by only", ir)
        elif kind == "re-included":
            assert ir is not None
            reason = _describe("re-included by", ir)
        else:
            reason = f"under watched path {kind}"
        return Decision(included=included, rule=ir, reason=reason)

    def prunes_dir(self, dirpath: str) -> bool:
        """Whether nothing below ``dirpath`` (absolute) can ever match.

        A watcher need not descend into (or watch) such a directory. Results
        are cached per directory.
        """
        d = _norm(dirpath)
        if not any(_related(d, p) for p in self.paths):
            return True
        root = self._outer_root(d)
        if root is None:
            return False  # an ancestor of a watched path: descend to reach it
        if (
            self._only
            and all(r.include for r in self._only)
            and not any(r.could_match_below(d) for r in self._only)
        ):
            return True
        return self._excluding_dir(d, root) is not None
