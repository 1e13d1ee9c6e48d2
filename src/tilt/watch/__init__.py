"""File watching: which paths matter to a target, and the watcher that reports them."""

from tilt.watch.matcher import BUILTIN_IGNORES, Decision, TargetMatcher

__all__ = ["BUILTIN_IGNORES", "Decision", "FileWatcher", "TargetMatcher"]


def __getattr__(name: str) -> object:
    # The watcher pulls in the event-loop machinery; load it on first use only.
    if name == "FileWatcher":
        from tilt.watch.watcher import FileWatcher

        return FileWatcher
    raise AttributeError(name)
