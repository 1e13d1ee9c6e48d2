"""Dockerfiles and .dockerignore files, read the way Docker (BuildKit) reads them.

Two jobs, both pure text processing (no Docker needed):

* `dockerfile_image_refs`: the images a Dockerfile builds on (``FROM``,
  ``COPY --from=`` and ``RUN --mount=...,from=``), with ``ARG`` defaults and
  build args substituted, so that the loader can order image builds (Tilt's
  image dependencies).
* `read_dockerignore` and `to_gitwildmatch`: .dockerignore patterns, and
  their faithful translation into gitwildmatch patterns (what `pathspec`
  applies, e.g. ``PathSpec.from_lines("gitignore", ...)``, for the watcher and the
  build-context filter).

The translation of one dockerignore pattern (Docker's rules, from
moby/patternmatcher, on the left; what we emit on the right):

==========================  ===========================================
dockerignore                gitwildmatch
==========================  ===========================================
anchored at the context     a leading ``/`` anchors it (gitignore would
root: ``*.log`` matches     match ``*.log`` at any depth)
only ``./x.log``
``path.Clean`` applied,     same cleaning, so ``./a/../b/`` is ``/b``;
leading ``/`` dropped       patterns escaping the root (``../x``) and
                            ``.`` can match nothing and are dropped
``*``, ``?``, ``[...]``,    unchanged (same meaning: never cross ``/``)
``\\`` escapes
a match of a parent dir     unchanged: a gitwildmatch pattern without a
excludes its whole subtree  trailing slash matches a directory and all
                            below it
``**`` (plus an optional    at the start or right after ``/``: the
following ``/``), i.e. the  segment ``**/``; right after another
regexp ``(.*/)?``           character (``foo**bar``) it means "nothing,
                            or the rest of this name, then any folders":
                            two patterns, ``foobar`` and ``foo*/**/bar``
``**`` at the end           ``**`` after ``/``; ``*`` after a name
(a prefix match)            (``foo**`` is every path starting ``foo``)
``!`` negation, last match  ``!`` kept; pathspec also lets the last
wins                        matching pattern win
==========================  ===========================================

Lines are read as Docker's ``ReadAll`` reads them: a UTF-8 BOM is dropped, a
line *starting* with ``#`` is a comment, the rest is trimmed, empty lines are
skipped, and ``!`` may be followed by spaces.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "DockerignoreLine",
    "dockerfile_image_refs",
    "read_dockerignore",
    "to_gitwildmatch",
]


# --- .dockerignore ---------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DockerignoreLine:
    """One pattern of a .dockerignore file, normalized as Docker normalizes it."""

    line: int
    pattern: str  # cleaned, relative to the context, with its leading "!" if any


def read_dockerignore(text: str) -> list[DockerignoreLine]:
    """The patterns of a .dockerignore file, with their 1-based line numbers."""
    out: list[DockerignoreLine] = []
    text = text.removeprefix("\ufeff")
    for num, raw in enumerate(text.splitlines(), start=1):
        # Docker drops comment lines before trimming, so "  # x" is a pattern.
        if raw.startswith("#"):
            continue
        pattern = raw.strip()
        if not pattern:
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = pattern[1:].strip()
        pattern = _clean(pattern)
        out.append(DockerignoreLine(line=num, pattern=("!" if invert else "") + pattern))
    return out


def _clean(pattern: str) -> str:
    """Go's ``filepath.Clean`` plus Docker's "drop one leading slash"."""
    if not pattern:
        return pattern
    pattern = posixpath.normpath(pattern)
    # normpath keeps exactly two leading slashes (POSIX); Clean does not.
    if pattern.startswith("//"):
        pattern = "/" + pattern.lstrip("/")
    if len(pattern) > 1 and pattern.startswith("/"):
        pattern = pattern[1:]
    return pattern


def to_gitwildmatch(pattern: str) -> list[str]:
    """Translate one dockerignore pattern (``!`` allowed) into gitwildmatch patterns.

    The result matches exactly the paths (relative to the same folder) Docker's
    matcher excludes, including its parent-directory rule; see the module docstring.
    It may hold two or more patterns (a ``**`` inside a name), or none (a pattern
    that can match nothing inside the folder).
    """
    pattern = pattern.strip()
    invert = pattern.startswith("!")
    if invert:
        pattern = pattern[1:].strip()
    pattern = _clean(pattern)
    if pattern in ("", ".", "/") or pattern == ".." or pattern.startswith("../"):
        return []
    prefix = "!" if invert else ""
    return [prefix + "/" + alt for alt in _expand(pattern)]


def _expand(pattern: str) -> list[str]:
    """The gitwildmatch alternatives of a cleaned, unanchored dockerignore pattern."""
    alts = [""]
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\" and i + 1 < n:
            alts = [a + pattern[i : i + 2] for a in alts]
            i += 2
            continue
        if ch == "[":
            end = pattern.find("]", i + 1)
            if end != -1:
                alts = [a + pattern[i : end + 1] for a in alts]
                i = end + 1
                continue
        if ch == "*" and i + 1 < n and pattern[i + 1] == "*":
            i += 2
            if i < n and pattern[i] == "/":
                i += 1  # Docker eats the slash after "**"
            alts = [alt for a in alts for alt in _double_star(a, at_end=i >= n)]
            continue
        alts = [a + ch for a in alts]
        i += 1
    return alts


def _double_star(before: str, *, at_end: bool) -> list[str]:
    """What Docker's ``**`` becomes after the gitwildmatch text ``before``."""
    at_segment = before == "" or before.endswith("/")
    if at_end:
        # Trailing "**": a prefix match on what came before.
        return [before + ("**" if at_segment else "*")]
    if at_segment:
        return [before + "**/"]
    # (.*/)? right after a name character: either nothing, or the rest of this
    # name and then zero or more folders.
    return [before, before + "*/**/"]


# --- Dockerfile ------------------------------------------------------------------------

_DIRECTIVE_RE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_HEREDOC_RE = re.compile(r"<<(-?)\s*([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")
_VAR_RE = re.compile(
    r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))"
)


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, rest) pairs, with comments, continuations and heredocs handled."""
    lines = text.removeprefix("\ufeff").splitlines()
    escape = "\\"
    # Parser directives (e.g. "# escape=`") may only open the file.
    start = 0
    for start, line in enumerate(lines):  # noqa: B007 - start is used after the loop
        m = _DIRECTIVE_RE.match(line.strip())
        if not m:
            break
        if m.group(1).lower() == "escape" and m.group(2) in ("\\", "`"):
            escape = m.group(2)
    else:
        start = len(lines)
    out: list[tuple[str, str]] = []
    buf: list[str] = []
    i = start
    while i < len(lines):
        line = lines[i]
        i += 1
        stripped = line.strip()
        # Comment and blank lines are dropped, also inside a continuation.
        if stripped.startswith("#") or not stripped:
            continue
        body = line.rstrip()
        if body.endswith(escape):
            buf.append(body[:-1])
            continue
        buf.append(line)
        logical = " ".join(part.strip() for part in buf).strip()
        buf = []
        if not logical:
            continue
        word, _, rest = logical.partition(" ")
        # Heredoc bodies ("RUN <<EOF ... EOF") are not instructions.
        for m in _HEREDOC_RE.finditer(rest):
            terminator = m.group(3)
            strip_tabs = m.group(1) == "-"
            while i < len(lines):
                candidate = lines[i].lstrip("\t") if strip_tabs else lines[i]
                i += 1
                if candidate == terminator:
                    break
        out.append((word.upper(), rest.strip()))
    if buf:
        logical = " ".join(part.strip() for part in buf).strip()
        if logical:
            word, _, rest = logical.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _substitute(word: str, env: Mapping[str, str]) -> str:
    """Shell-style ``$VAR``/``${VAR}``/``${VAR:-x}``/``${VAR:+x}`` as Dockerfiles use it."""

    def repl(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(4)
        value = env.get(name)
        op = m.group(2)
        if op in (":-", "-"):
            if value is None or (op == ":-" and value == ""):
                return _substitute(m.group(3), env)
            return value
        if op in (":+", "+"):
            if value is None or (op == ":+" and value == ""):
                return ""
            return _substitute(m.group(3), env)
        return value or ""

    return _VAR_RE.sub(repl, word)


def _flags(rest: str) -> tuple[dict[str, list[str]], list[str]]:
    """Split ``--flag=value`` options from the other words of an instruction."""
    flags: dict[str, list[str]] = {}
    words = rest.split()
    i = 0
    while i < len(words) and words[i].startswith("--"):
        name, _, value = words[i][2:].partition("=")
        flags.setdefault(name.lower(), []).append(value)
        i += 1
    return flags, words[i:]


def dockerfile_image_refs(text: str, build_args: Mapping[str, str] | None = None) -> list[str]:
    """The images a Dockerfile uses, in order, each once.

    ``FROM`` images (not ``scratch``, not earlier stages), ``COPY --from=`` and
    ``RUN --mount=...,from=`` images. ``ARG``s declared before the first ``FROM``
    are substituted with their defaults, overridden by ``build_args`` (Docker's
    rule for ``FROM``).
    """
    build_args = build_args or {}
    global_args: dict[str, str] = {}
    stages: set[str] = set()
    refs: list[str] = []
    seen_from = False

    def add(ref: str) -> None:
        ref = ref.strip().strip("\"'")
        if not ref or ref.lower() == "scratch" or ref.lower() in stages or ref.isdigit():
            return
        if "$" in ref:
            return  # an unresolved variable: not a reference we can match
        if ref not in refs:
            refs.append(ref)

    for instr, rest in _instructions(text):
        if instr == "ARG" and not seen_from:
            for decl in rest.split():
                name, eq, default = decl.partition("=")
                default = default.strip("\"'")
                if name in build_args:
                    global_args[name] = build_args[name]
                elif eq:
                    global_args[name] = _substitute(default, global_args)
        elif instr == "FROM":
            seen_from = True
            _, words = _flags(rest)
            if not words:
                continue
            image = _substitute(words[0], global_args)
            add(image)
            if len(words) >= 3 and words[1].lower() == "as":
                stages.add(words[2].lower())
        elif instr == "COPY":
            flags, _ = _flags(rest)
            for value in flags.get("from", []):
                add(_substitute(value, global_args))
        elif instr == "RUN":
            flags, _ = _flags(rest)
            for mount in flags.get("mount", []):
                for field in mount.split(","):
                    key, _, value = field.partition("=")
                    if key.strip().lower() == "from":
                        add(_substitute(value, global_args))
    return refs
