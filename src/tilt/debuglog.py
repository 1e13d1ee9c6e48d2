"""Tilt's own debug log: errors tilt recovers from, kept for whoever investigates.

Some failures are expected and handled by retrying (a Docker event stream that
broke, a watcher that could not close cleanly). They must not reach the user's
screen, but they must not vanish either: `log` writes them, with their
traceback, at debug level to ``debug.log`` in the tilt dev folder
(``$TILT_DEV_DIR``, ``~/.tilt-dev`` by default). The file is opened on the
first line only.
"""

from __future__ import annotations

import logging
import os

__all__ = ["debug_log_path", "log"]

_LOGGER = logging.getLogger("tilt.debug")
_LOGGER.propagate = False
_LOGGER.setLevel(logging.DEBUG)


def debug_log_path() -> str:
    """Where the debug log is written."""
    base = os.environ.get("TILT_DEV_DIR") or os.path.join(os.path.expanduser("~"), ".tilt-dev")
    return os.path.join(base, "debug.log")


def _ensure_handler() -> bool:
    path = debug_log_path()
    for h in list(_LOGGER.handlers):
        if isinstance(h, logging.FileHandler) and h.baseFilename == os.path.abspath(path):
            return True
        _LOGGER.removeHandler(h)
        h.close()
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8", delay=True)
    except OSError:
        return False
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(message)s"))
    _LOGGER.addHandler(handler)
    return True


def log(message: str, *, exc: BaseException | None = None) -> None:
    """Write ``message`` (and ``exc``'s traceback) to the debug log; never raises."""
    try:
        if _ensure_handler():
            _LOGGER.debug(message, exc_info=exc)
    except Exception:
        pass
