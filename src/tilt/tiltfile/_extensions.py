"""Finding and fetching extensions: what ``load('ext://NAME')`` loads.

In this order:

1. ``$TILT_EXTENSIONS_DIR/NAME/Tiltfile`` and ``tilt_modules/NAME/Tiltfile`` next to the
   main Tiltfile (vendored extensions; never touch the network), unless the Tiltfile
   registered ``v1alpha1.extension(name=NAME, ...)`` itself;
2. the ``Extension`` object named NAME (registered by the Tiltfile, or implied: repo
   ``default``, path NAME, as Tilt's ``ensureExtension`` does) in its ``ExtensionRepo``
   (registered, or implied: ``default`` = https://github.com/tilt-dev/tilt-extensions at
   ``HEAD``, Tilt's ``ensureRepo``): ``REPO/[git_subpath/]repo_path/Tiltfile``.

A repository is fetched as Tilt fetches it, with ``git``: a shallow fetch of the ref into
the data folder (``$XDG_DATA_HOME/tilt-dev/tilt_modules/HOST/PATH``, default
``~/.local/share``), done once. A branch (or ``HEAD``) is fetched again by each ``tilt up``
(once per process); a tag or commit never is. Without the network the copy already
fetched is used, with a warning. ``file://`` repositories are used in place, as in Tilt.
"""

from __future__ import annotations

import json
import os
import re
import time

from tilt.model import ApiObject
from tilt.tiltfile._context import LoadState, TiltfileError, doc_section
from tilt.tiltfile._v1alpha1 import ensure_object, registered

__all__ = ["DEFAULT_REPO_NAME", "DEFAULT_REPO_URL", "EXTENSIONS_ENV", "resolve_extension"]

EXTENSIONS_ENV = "TILT_EXTENSIONS_DIR"
DEFAULT_REPO_NAME = "default"
DEFAULT_REPO_URL = "https://github.com/tilt-dev/tilt-extensions"
_META = "tilt-extension-repo.json"  # inside the checkout's .git folder
_GIT_TIMEOUT_S = 300
_SHA_RE = re.compile(r"[0-9a-f]{7,40}")

# Checkouts this process already brought up to date (a branch is fetched once per `tilt up`).
_UPDATED: set[str] = set()


def _sanitize(name: str) -> str:
    """Tilt's ``apis.SanitizeName``: an object name from an extension's module name."""
    return re.sub(r"[^a-zA-Z0-9._-]", "_", name)


def _vendor_hint(state: LoadState, name: str) -> str:
    local = os.path.join(state.main_dir, "tilt_modules", name, "Tiltfile")
    return (
        f"To use it without the network, vendor it: put its Tiltfile at {local} "
        f"(or at ${EXTENSIONS_ENV}/{name}/Tiltfile)."
    )


def resolve_extension(state: LoadState, name: str) -> str:
    """The Tiltfile ``ext://NAME`` loads, fetching its repository when needed."""
    name = name.strip("/")
    obj_name = _sanitize(name)
    explicit = registered(state, "Extension", obj_name)
    if explicit is None or explicit.annotations.get("tilt.dev/managed-by") == "tiltfile.loader":
        for root in _local_roots(state):
            candidate = os.path.join(root, name, "Tiltfile")
            if os.path.isfile(candidate):
                return candidate
    ext = ensure_object(
        state,
        ApiObject(
            kind="Extension",
            name=obj_name,
            annotations={"tilt.dev/managed-by": "tiltfile.loader"},
            spec={"repoName": DEFAULT_REPO_NAME, "repoPath": name, "args": []},
        ),
    )
    repo_name = ext.spec.get("repoName") or DEFAULT_REPO_NAME
    repo = ensure_object(
        state,
        ApiObject(
            kind="ExtensionRepo",
            name=repo_name,
            spec={"url": DEFAULT_REPO_URL, "ref": "HEAD", "loadHost": "", "gitSubpath": ""},
        ),
    )
    root = _repo_path(state, repo, name)
    sub = repo.spec.get("gitSubpath", "")
    path = os.path.normpath(os.path.join(root, sub, ext.spec.get("repoPath", ""), "Tiltfile"))
    if not path.startswith(os.path.normpath(root) + os.sep):
        raise TiltfileError(
            f"loading extension {ext.name}: repo_path {ext.spec.get('repoPath')!r} "
            f"is outside extension repo {repo.name}"
        )
    if not os.path.isfile(path):
        roots = " or ".join(os.path.join(r, name, "Tiltfile") for r in _local_roots(state))
        raise TiltfileError(
            f"loading extension {ext.name}: extension path not found: {path} "
            f"(extension repo {repo.name}: {repo.spec.get('url')}); "
            f"a vendored copy would be at {roots}"
        )
    return path


def _local_roots(state: LoadState) -> list[str]:
    roots = []
    env_dir = state.env.get(EXTENSIONS_ENV, "")
    if env_dir:
        roots.append(os.path.abspath(env_dir))
    roots.append(os.path.join(state.main_dir, "tilt_modules"))
    return roots


def data_dir(env: dict[str, str] | os._Environ[str]) -> str:
    """Tilt's data folder (xdg): ``$XDG_DATA_HOME/tilt-dev`` or ``~/.local/share/tilt-dev``."""
    base = env.get("XDG_DATA_HOME") or os.path.join(
        env.get("HOME") or os.path.expanduser("~"), ".local", "share"
    )
    return os.path.join(base, "tilt-dev")


def _repo_path(state: LoadState, repo: ApiObject, ext_name: str) -> str:
    url = str(repo.spec.get("url", ""))
    ref = str(repo.spec.get("ref", ""))
    if url.startswith("file://") and not (ref and ref != "HEAD"):
        # Tilt: a file:// repository is a folder used in place.
        path = url.removeprefix("file://")
        if not os.path.isdir(path):
            raise TiltfileError(
                f"loading extension repo {repo.name}: {url}: "
                + ("not a directory" if os.path.exists(path) else "no such directory")
            )
        return path
    return _checkout(state, repo, ext_name)


def _dest(env: dict[str, str], url: str) -> str:
    rest = url.split("://", 1)[1] if "://" in url else url
    if url.startswith("file://"):
        rest = "file/" + rest.lstrip("/")
    rest = rest.rstrip("/").removesuffix(".git")
    return os.path.join(data_dir(env), "tilt_modules", *[p for p in rest.split("/") if p])


class _GitError(Exception):
    def __init__(self, args: list[str], output: str) -> None:
        super().__init__(output)
        self.command = "git " + " ".join(args)
        self.output = output

    @property
    def said(self) -> str:
        """git's own explanation: its ``fatal:``/``error:`` lines (else its last line)."""
        lines = [ln.strip() for ln in self.output.splitlines() if ln.strip()]
        key = [ln for ln in lines if ln.startswith(("fatal:", "error:"))]
        return "; ".join(key) if key else (lines[-1] if lines else "")


def _git(env: dict[str, str], cwd: str, *args: str) -> str:
    import subprocess  # not at the top: most loads never fetch, and it costs ~4 ms to import

    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
            start_new_session=True,  # its own process group
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise _GitError(list(args), "git is not installed (not found on $PATH)") from None
    except subprocess.TimeoutExpired:
        raise _GitError(list(args), f"timed out after {_GIT_TIMEOUT_S}s") from None
    if proc.returncode != 0:
        said = (proc.stderr or proc.stdout).strip()
        raise _GitError(list(args), said or f"exit status {proc.returncode}")
    return proc.stdout


def _git_env(state: LoadState) -> dict[str, str]:
    env = dict(state.env)
    env["GIT_TERMINAL_PROMPT"] = "0"  # a private URL fails instead of waiting for a password
    env.setdefault("GIT_ASKPASS", "true")
    return env


def _fetch(env: dict[str, str], dest: str, url: str, ref: str) -> bool:
    """Shallow-fetch ``ref`` into the repository at ``dest`` and check it out.

    Returns:
        Whether the ref is pinned (a tag or a commit), so never needs fetching again.
    """
    _git(env, dest, "fetch", "--quiet", "--depth", "1", "--no-tags", url, ref)
    _git(env, dest, "checkout", "--quiet", "--force", "--detach", "FETCH_HEAD")
    _git(env, dest, "clean", "-fdq")
    with open(os.path.join(dest, ".git", "FETCH_HEAD"), encoding="utf-8") as f:
        described = f.read()
    return bool(_SHA_RE.fullmatch(ref)) or "tag '" in described


def _read_meta(dest: str) -> dict[str, object]:
    try:
        with open(os.path.join(dest, ".git", _META), encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_meta(dest: str, url: str, ref: str, pinned: bool) -> None:
    meta = {"url": url, "ref": ref, "pinned": pinned, "fetched_at": time.time()}
    with open(os.path.join(dest, ".git", _META), "w", encoding="utf-8") as f:
        json.dump(meta, f)


def _checkout(state: LoadState, repo: ApiObject, ext_name: str) -> str:
    url = str(repo.spec.get("url", ""))
    ref = str(repo.spec.get("ref", "")) or "HEAD"
    env = _git_env(state)
    dest = _dest(env, url)
    meta = _read_meta(dest) if os.path.isdir(os.path.join(dest, ".git")) else None

    def failure(e: _GitError) -> TiltfileError:
        return TiltfileError(
            f"loading extension repo {repo.name}: fetching {url} (ref {ref}) into {dest} "
            f"failed: `{e.command}` said: {e.said}\n" + _vendor_hint(state, ext_name)
        )

    if meta is not None and meta.get("url") == url and meta.get("ref") == ref:
        if meta.get("pinned") or state.subcommand != "up" or dest in _UPDATED:
            return dest
        try:
            pinned = _fetch(env, dest, url, ref)
        except _GitError as e:
            state.warn(
                f"extension repo {repo.name}: could not update {url} (ref {ref}): "
                f"{e.said or e.command}; using the copy "
                f"fetched {time.strftime('%Y-%m-%d %H:%M', time.localtime(_fetched_at(meta)))}"
            )
            _UPDATED.add(dest)
            return dest
        _write_meta(dest, url, ref, pinned)
        _UPDATED.add(dest)
        return dest

    # First fetch (or another ref than the copy has): into a fresh folder, then swap it in,
    # so a failed or interrupted fetch never leaves a half checkout behind.
    import shutil

    os.makedirs(os.path.dirname(dest), exist_ok=True)
    tmp = f"{dest}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        os.makedirs(tmp)
        _git(env, tmp, "init", "--quiet")
        pinned = _fetch(env, tmp, url, ref)
        _write_meta(tmp, url, ref, pinned)
    except _GitError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise failure(e) from None
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(tmp, dest)
    _UPDATED.add(dest)
    return dest


def _fetched_at(meta: dict[str, object]) -> float:
    at = meta.get("fetched_at")
    return float(at) if isinstance(at, int | float) else 0.0


doc_section(
    "Extensions: how they are found and fetched",
    """
`load('ext://NAME', ...)` loads an extension's Tiltfile, looked for in this order:

1. `$TILT_EXTENSIONS_DIR/NAME/Tiltfile`, then `tilt_modules/NAME/Tiltfile` next to the
   main Tiltfile: vendored copies, never fetched (skipped when the Tiltfile registered
   `v1alpha1.extension(name=NAME, ...)` itself).
2. The `Extension` named NAME in its `ExtensionRepo`, as in Tilt: registered with
   `v1alpha1.extension(name, repo_name, repo_path, args)`, or implied (repository
   `default`, path NAME). The repository is one registered with
   `v1alpha1.extension_repo(name, url, ref)` (register it before the `load`), or
   `default`: https://github.com/tilt-dev/tilt-extensions at `HEAD`. The file loaded is
   `REPO/[git_subpath/]repo_path/Tiltfile`.

Repositories are fetched with `git` as Tilt fetches them: a shallow fetch of the ref into
the data folder, `$XDG_DATA_HOME/tilt-dev/tilt_modules/HOST/PATH` (default
`~/.local/share/tilt-dev/...`), the first time an extension from it is loaded. A branch
(or `HEAD`, or no ref) is fetched again by each `tilt up` (once per process); a tag or a
commit never is; other commands (`tilt ci`, `tilt dump`) use the copy they find. Offline,
the copy already fetched is used, with a warning. A `file:///ABSOLUTE/PATH` repository is a
folder used in place (Tilt); beyond Tilt, with a `ref` it is cloned at that ref like a
remote one. git runs without prompting (a private repository fails instead of asking for a
password) and honours your git configuration (`url.<base>.insteadOf` mirrors work).

When a fetch fails, the error names the URL and ref, the git command and what git said,
and where to vendor the extension (`tilt_modules/NAME/Tiltfile`) to work without the
network.
""",
)
