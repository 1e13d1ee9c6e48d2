"""The build context of a docker_build: exactly what the image's matcher accepts.

`build_context` walks ``image.context`` once, asking the image's
`tilt.watch.matcher.TargetMatcher` (the same one the file watcher uses, so
what is ignored is ignored everywhere) about every directory and file:
directories the matcher prunes (an ignored ``node_modules``, ``.git``, or
everything outside ``only=``) are never opened, and each accepted file is read
once, straight into a tar archive and into the context digest at the same
time. The archive goes into a spooled temporary file (memory up to
`SPOOL_MAX_BYTES`, then disk), from which the build streams it to the engine.

The Dockerfile always goes in, even when it lies outside the context, is
excluded by the matcher, or is given as ``dockerfile_contents``. Then, as the
docker CLI does, it is added under a generated name at the top of the archive
(`EXTRA_DOCKERFILE_PREFIX`), together with a generated ``.dockerignore``
naming it and itself: the engine reads the Dockerfile, then drops both, so
``COPY . /app`` never copies them. The user's own ``.dockerignore`` rules have
already been applied here, by the matcher.

Base images this tilt builds (``FROM`` / ``COPY --from=`` naming another
image target) are pinned to the exact content-tagged ref that was just built
(`rewrite_base_refs`, as Tilt does); since the rewritten Dockerfile enters the
digest, a changed base image changes the tag of every image built from it.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import tarfile
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from tilt.model import ImageTarget
    from tilt.watch.matcher import TargetMatcher

__all__ = [
    "EXTRA_DOCKERFILE_PREFIX",
    "SPOOL_MAX_BYTES",
    "ContextError",
    "ContextTar",
    "build_context",
    "dockerfile_text",
    "rewrite_base_refs",
]

#: The archive stays in memory up to this size, then moves to a temporary file.
SPOOL_MAX_BYTES = 32 * 1024 * 1024

#: Name prefix of a Dockerfile added to the archive from outside the context.
EXTRA_DOCKERFILE_PREFIX = ".dockerfile.tilt-"

_ATTEMPTS = 3


class ContextError(RuntimeError):
    """The build context could not be read (a permission problem, a missing folder)."""


class _ChangedWhileReading(Exception):
    """A file changed size while it was archived; the walk starts over."""


@dataclass(frozen=True, kw_only=True)
class ContextTar:
    """A build context archive, ready to stream to the engine.

    Attributes:
        context_dir: The folder the archive was made from.
        files: Paths (relative to ``context_dir``, ``/``-separated, in archive
            order) of every file and symlink the matcher accepted. Exactly
            these go to the engine, plus the Dockerfile when it is added
            under `dockerfile_name`.
        dockerfile_name: The Dockerfile's path inside the archive (what the
            engine is told to read).
        dockerfile_text: The Dockerfile as sent (base image refs pinned).
        size_bytes: Size of the archive: the bytes sent to the engine.
        digest: sha256 (hex) over every entry's path, type, mode and content,
            and the Dockerfile as sent. Modification times are left out, so
            touching a file does not change it.
        walk_s: Seconds spent walking and archiving.
    """

    context_dir: str
    files: tuple[str, ...]
    dockerfile_name: str
    dockerfile_text: str
    size_bytes: int
    digest: str
    walk_s: float
    _data: IO[bytes] = field(repr=False, compare=False)

    def open(self) -> IO[bytes]:
        """The archive, positioned at its start (a file object to stream from)."""
        self._data.seek(0)
        return self._data

    def read_all(self) -> bytes:
        """The whole archive in memory (tests and small contexts)."""
        return self.open().read()

    def close(self) -> None:
        """Release the archive (its temporary file, if it spilled to disk)."""
        self._data.close()

    def __enter__(self) -> ContextTar:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class _HashingReader:
    """Reads from a file for tarfile while feeding the same bytes to a digest."""

    def __init__(self, f: IO[bytes], digest: hashlib._Hash) -> None:
        self._f = f
        self._digest = digest

    def read(self, size: int = -1) -> bytes:
        data = self._f.read(size)
        self._digest.update(data)
        return data


def dockerfile_text(image: ImageTarget) -> str:
    """The Dockerfile of a docker_build: its ``dockerfile_contents`` or the file's text.

    Raises:
        ContextError: the Dockerfile cannot be read.
    """
    if image.dockerfile_contents or not image.dockerfile:
        return image.dockerfile_contents
    try:
        with open(image.dockerfile, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError as e:
        raise ContextError(
            f"cannot read Dockerfile {image.dockerfile}: {e.strerror or e}"
        ) from None


_FROM_RE = re.compile(r"^(\s*FROM\s+)((?:--\S+\s+)*)(\S+)(.*)$", re.IGNORECASE)
_COPY_FROM_RE = re.compile(r"(--from=)([^\s]+)", re.IGNORECASE)
_COPY_RE = re.compile(r"^\s*(COPY|ADD)\s", re.IGNORECASE)


def rewrite_base_refs(text: str, base_refs: Mapping[str, str]) -> str:
    """Pin ``FROM`` and ``COPY --from=`` images this tilt builds to their built refs.

    Args:
        text: The Dockerfile.
        base_refs: Image target ref (as declared) -> the ref just built for it
            (``name:tilt-<digest>``).

    Returns:
        The Dockerfile with each matching image replaced (Tilt's rule for
        matching: `tilt.refs.refs_match`); other lines unchanged.
    """
    if not base_refs:
        return text
    from tilt.refs import refs_match

    def pinned(used: str) -> str | None:
        for declared, built in base_refs.items():
            if refs_match(declared, used):
                return built
        return None

    out: list[str] = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        ending = line[len(body) :]
        m = _FROM_RE.match(body)
        if m:
            new = pinned(m.group(3))
            if new is not None:
                body = m.group(1) + m.group(2) + new + m.group(4)
        elif _COPY_RE.match(body):

            def repl(cm: re.Match[str]) -> str:
                new = pinned(cm.group(2))
                return cm.group(1) + new if new is not None else cm.group(0)

            body = _COPY_FROM_RE.sub(repl, body)
        out.append(body + ending)
    return "".join(out)


def _tarinfo(name: str, st: os.stat_result, kind: bytes) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.mode = stat.S_IMODE(st.st_mode)
    ti.mtime = int(st.st_mtime)
    ti.type = kind
    # Ownership is the engine's business (files belong to root in the image).
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    return ti


class _Archiver:
    """One pass over the context: walk, filter, archive and digest."""

    def __init__(
        self,
        root: str,
        matcher: TargetMatcher,
        *,
        skip_root_dockerignore: bool,
    ) -> None:
        self.root = root
        self.matcher = matcher
        self.skip_root_dockerignore = skip_root_dockerignore
        self.data: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_BYTES)  # noqa: SIM115 - owned by the ContextTar
        self.tar = tarfile.open(fileobj=self.data, mode="w", format=tarfile.PAX_FORMAT)  # noqa: SIM115
        self.digest = hashlib.sha256()
        self.files: list[str] = []
        # Directories entered whose entry is not yet in the archive: written just
        # before the first entry below them, so pruned-to-empty trees leave no trace.
        self.pending: list[tuple[str, os.stat_result]] = []

    def _record(self, kind: str, rel: str, mode: int, extra: str = "") -> None:
        self.digest.update(f"\0{kind}\0{rel}\0{mode:o}\0{extra}\0".encode())

    def _flush_dirs(self) -> None:
        for rel, st in self.pending:
            self._record("d", rel, stat.S_IMODE(st.st_mode))
            self.tar.addfile(_tarinfo(rel + "/", st, tarfile.DIRTYPE))
        self.pending.clear()

    def add_bytes(self, name: str, data: bytes, mode: int = 0o644) -> None:
        ti = tarfile.TarInfo(name)
        ti.size = len(data)
        ti.mode = mode
        ti.mtime = 0
        import io

        self.tar.addfile(ti, io.BytesIO(data))

    def walk(self, dirpath: str, rel: str) -> None:
        try:
            with os.scandir(dirpath) as it:
                entries = sorted(it, key=lambda e: e.name)
        except FileNotFoundError:
            return  # deleted while we walk; the watcher reports the change
        except OSError as e:
            raise ContextError(f"cannot read {dirpath}: {e.strerror or e}") from None
        for entry in entries:
            path = entry.path
            child_rel = f"{rel}/{entry.name}" if rel else entry.name
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if is_dir:
                if self.matcher.prunes_dir(path):
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                self.pending.append((child_rel, st))
                depth = len(self.pending)
                self.walk(path, child_rel)
                if len(self.pending) >= depth:
                    # Nothing below was archived: keep an empty folder the
                    # matcher accepts (docker sends those too), else forget it.
                    if self.matcher.matches(path):
                        self._flush_dirs()
                    else:
                        del self.pending[depth - 1 :]
                continue
            if not self.matcher.matches(path):
                continue
            self.add_file(path, child_rel, entry)

    def add_file(self, path: str, rel: str, entry: os.DirEntry[str]) -> None:
        try:
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                target = os.readlink(path)
                self._flush_dirs()
                ti = _tarinfo(rel, st, tarfile.SYMTYPE)
                ti.linkname = target
                self._record("l", rel, ti.mode, target)
                self.tar.addfile(ti)
                self.files.append(rel)
                return
            if not stat.S_ISREG(st.st_mode):
                return  # sockets, fifos, devices: docker skips them too
            if self.skip_root_dockerignore and rel == ".dockerignore":
                # Replaced by the generated one; its content still counts.
                with open(path, "rb") as f:
                    content = f.read()
                self._record("f", rel, stat.S_IMODE(st.st_mode), str(len(content)))
                self.digest.update(content)
                self.files.append(rel)
                return
            with open(path, "rb") as f:
                st = os.fstat(f.fileno())
                self._flush_dirs()
                ti = _tarinfo(rel, st, tarfile.REGTYPE)
                ti.size = st.st_size
                self._record("f", rel, ti.mode, str(ti.size))
                try:
                    self.tar.addfile(ti, _HashingReader(f, self.digest))
                except OSError as e:
                    if "unexpected end of data" in str(e):
                        raise _ChangedWhileReading(rel) from None
                    raise
            self.files.append(rel)
        except FileNotFoundError:
            return  # deleted between listing and reading
        except PermissionError as e:
            raise ContextError(f"cannot read {path}: {e.strerror}") from None


def build_context(
    image: ImageTarget,
    matcher: TargetMatcher | None = None,
    *,
    base_refs: Mapping[str, str] | None = None,
) -> ContextTar:
    """Archive the build context of a docker_build image.

    Blocking (file I/O): call it through `asyncio.to_thread` from the engine.

    Args:
        image: A docker_build image target.
        matcher: The image's matcher; by default
            ``TargetMatcher.from_spec(image.watch, extra_ignores=())``
            (``.tiltignore`` and ``watch_settings`` are for watching only, as
            in Tilt). Pass the engine's cached one to reuse its directory cache.
        base_refs: Built refs of the images this one is built from (see
            `rewrite_base_refs`).

    Returns:
        The archive; close it (or use it as a context manager) when done.

    Raises:
        ContextError: a folder or file could not be read, or files kept
            changing size while being archived.
    """
    from tilt.watch.matcher import TargetMatcher

    if matcher is None:
        matcher = TargetMatcher.from_spec(image.watch, extra_ignores=())
    root = os.path.normpath(image.context)
    if not os.path.isdir(root):
        raise ContextError(f"build context {root} is not a directory")
    original = dockerfile_text(image)
    text = rewrite_base_refs(original, base_refs or {})

    # The Dockerfile goes under its own name when the engine can read it from the
    # context as it is; otherwise under a generated name (see the module doc).
    own_name = ""
    if image.dockerfile and not image.dockerfile_contents:
        rel = os.path.relpath(image.dockerfile, root)
        if not rel.startswith("..") and matcher.matches(image.dockerfile):
            own_name = rel.replace(os.sep, "/")
    if own_name and text != original:
        own_name = ""

    last: Exception | None = None
    for _ in range(_ATTEMPTS):
        start = time.perf_counter()
        arch = _Archiver(root, matcher, skip_root_dockerignore=not own_name)
        try:
            arch.walk(root, "")
        except _ChangedWhileReading as e:
            arch.tar.close()
            arch.data.close()
            last = e
            continue
        except BaseException:
            arch.tar.close()
            arch.data.close()
            raise
        arch._flush_dirs()
        name = own_name
        encoded = text.encode()
        arch.digest.update(b"\0dockerfile\0" + encoded)
        if not name:
            name = EXTRA_DOCKERFILE_PREFIX + hashlib.sha256(encoded).hexdigest()[:12]
            arch.add_bytes(name, encoded)
            arch.add_bytes(".dockerignore", f"{name}\n.dockerignore\n".encode())
        arch.tar.close()
        size = arch.data.tell()
        arch.data.seek(0)
        return ContextTar(
            context_dir=root,
            files=tuple(arch.files),
            dockerfile_name=name,
            dockerfile_text=text,
            size_bytes=size,
            digest=arch.digest.hexdigest(),
            walk_s=time.perf_counter() - start,
            _data=arch.data,
        )
    raise ContextError(
        f"files kept changing while the build context was archived (last: {last}); "
        "the build is retried on the next change"
    )
