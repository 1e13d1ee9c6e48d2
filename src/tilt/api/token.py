"""The API token: a random secret in a file only the user can read.

`tilt up` writes ``$TILT_DEV_DIR/token-PORT`` (``~/.tilt-dev`` by default; the
folder mode 0700, the file 0600) after it has bound its port, and removes it on
exit. Other commands read it to talk to that `tilt up`; a web page cannot.
"""

from __future__ import annotations

import contextlib
import os
import secrets

__all__ = [
    "TokenError",
    "new_token",
    "read_token",
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
    """Write ``token`` as ``port``'s token file (mode 0600); returns the file's path."""
    d = tilt_dev_dir()
    os.makedirs(d, mode=0o700, exist_ok=True)
    path = token_path(port)
    tmp = f"{path}.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, token.encode() + b"\n")
    finally:
        os.close(fd)
    # Atomic: a reader never sees a half-written token.
    os.replace(tmp, path)
    return path


def read_token(port: int) -> str:
    """The token of the `tilt up` on ``port``.

    Raises:
        TokenError: the file is missing, unreadable or empty.
    """
    path = token_path(port)
    try:
        with open(path, encoding="ascii") as f:
            token = f.read().strip()
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
            if f.read().strip() != token:
                return
        os.unlink(path)
    except OSError:
        pass
