"""The API token: a random secret in a file only the user can read.

`tilt up` writes ``$TILT_DEV_DIR/token-PORT`` (``~/.tilt-dev`` by default; the
folder mode 0700, the file 0600) after it has bound its port, and removes it on
exit. Other commands read it to talk to that `tilt up`; a web page cannot.

The file holds the token and, on a second line, the pid of the `tilt up` that
wrote it. An unclean exit (a second Ctrl-C, SIGKILL, a crash) leaves the file
behind; `remove_stale_tokens`, run when `tilt up` starts, removes every token
file whose writer is gone.
"""

from __future__ import annotations

import contextlib
import os
import secrets

__all__ = [
    "TokenError",
    "new_token",
    "read_token",
    "remove_stale_tokens",
    "remove_token",
    "tilt_dev_dir",
    "token_path",
    "write_token",
]


class TokenError(Exception):
    """No token could be read (no `tilt up` on that port, or a bad file)."""


def tilt_dev_dir() -> str:
    """Where tilt keeps per-user files: ``$TILT_DEV_DIR`` or ``~/.tilt-dev``."""
    return os.environ.get("TILT_DEV_DIR") or os.path.join(os.path.expanduser("~"), ".tilt-dev")


def token_path(port: int) -> str:
    """The token file of the `tilt up` serving ``port``."""
    return os.path.join(tilt_dev_dir(), f"token-{port}")


def new_token() -> str:
    """A fresh random token."""
    return secrets.token_urlsafe(32)


def write_token(port: int, token: str) -> str:
    """Write ``token`` as ``port``'s token file (mode 0600); returns the file's path.

    Raises:
        TokenError: the folder or the file cannot be written (one-line message).
    """
    d = tilt_dev_dir()
    path = token_path(port)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(d, mode=0o700, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, f"{token}\n{os.getpid()}\n".encode())
        finally:
            os.close(fd)
        # Atomic: a reader never sees a half-written token.
        os.replace(tmp, path)
    except (OSError, ValueError) as e:
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise TokenError(
            f"cannot write the API token to {d}: {why} "
            "(set TILT_DEV_DIR to a folder you can write, or --port 0 for no API)"
        ) from None
    return path


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: not ours to judge
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _port_answers(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def remove_stale_tokens() -> list[str]:
    """Remove the token files (and leftover temporary files) of `tilt up`s that are gone.

    A file is stale when the pid it names is not running, or - for a file
    without a pid - when nothing listens on its port.

    Returns:
        The paths removed.
    """
    d = tilt_dev_dir()
    try:
        names = os.listdir(d)
    except OSError:
        return []
    removed = []
    for name in names:
        if not name.startswith("token-"):
            continue
        path = os.path.join(d, name)
        rest = name[len("token-") :]
        stale = False
        if rest.endswith(".tmp"):
            pid_text = rest[: -len(".tmp")].rpartition(".")[2]
            stale = pid_text.isdigit() and not _pid_alive(int(pid_text))
        elif rest.isdigit():
            try:
                with open(path, encoding="ascii", errors="replace") as f:
                    lines = f.read().split()
            except OSError:
                continue
            if len(lines) >= 2 and lines[1].isdigit():
                stale = not _pid_alive(int(lines[1]))
            else:
                stale = not _port_answers(int(rest))
        if stale:
            with contextlib.suppress(OSError):
                os.unlink(path)
                removed.append(path)
    return removed


def read_token(port: int) -> str:
    """The token of the `tilt up` on ``port``.

    Raises:
        TokenError: the file is missing, unreadable or empty.
    """
    path = token_path(port)
    try:
        with open(path, encoding="ascii") as f:
            first = f.read().strip().split("\n", 1)
            token = first[0].strip()
    except FileNotFoundError:
        raise TokenError(
            f"no `tilt up` is running on port {port} (no token file {path}); "
            "start one, or pass --port / set TILT_PORT"
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise TokenError(f"cannot read the API token {path}: {e}") from None
    if not token:
        raise TokenError(f"the API token file {path} is empty")
    return token


def remove_token(port: int, token: str) -> None:
    """Remove ``port``'s token file if it still holds ``token`` (ours, not a successor's)."""
    path = token_path(port)
    try:
        with open(path, encoding="ascii") as f:
            if f.read().strip().split("\n", 1)[0].strip() != token:
                return
        os.unlink(path)
    except (OSError, UnicodeDecodeError):
        pass
