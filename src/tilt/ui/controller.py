"""What the TUI needs from whatever runs the resources: the `Controller` protocol.

The UI only observes (``snapshot()``, observers, the log store) and sends
intents back (trigger, cancel, trigger-mode override, shutdown). The real
`tilt.engine.engine.Engine` satisfies it; tests and benchmarks use
`tilt.ui.scripted.ScriptedController`, which replays scripted snapshots.

Everything is called on the event loop's thread that runs the app.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from tilt.engine.snapshot import EngineSnapshot
from tilt.logstore import LogStore

if TYPE_CHECKING:
    from tilt.buttons import ButtonAction

__all__ = ["Controller"]


class Controller(Protocol):
    """The engine as the TUI sees it.

    Intents that cannot be carried out raise an exception whose message is
    shown to the user (the engine's ``EngineError``).

    Attributes:
        logs: The bounded log store every line goes through.
    """

    logs: LogStore

    def snapshot(self) -> EngineSnapshot:
        """The JSON-able state (`tilt.engine.state.EngineState.snapshot`)."""
        ...

    def add_observer(self, fn: Callable[[], None]) -> Callable[[], None]:
        """Call ``fn`` after each change of the state; returns an unsubscribe."""
        ...

    def trigger(self, name: str) -> None:
        """Queue an update of ``name``."""
        ...

    def trigger_dirty(self) -> list[str]:
        """Queue an update of every resource with pending changes; returns their names."""
        ...

    def cancel(self, name: str) -> str:
        """Cancel ``name``'s running or queued update; returns what was done."""
        ...

    def set_trigger_mode(self, name: str, mode: str | None) -> None:
        """Override ``name``'s trigger mode (``"auto"``/``"manual"``; None: the Tiltfile's)."""
        ...

    def buttons(self, name: str) -> tuple[ButtonAction, ...]:
        """The ``v1alpha1.ui_button`` actions on resource ``name``."""
        ...

    def run_button(self, name: str, button: str, values: dict[str, str]) -> str:
        """Run button ``button`` of ``name`` with input ``values``; returns what was done."""
        ...

    def shutdown(self, reason: str = "shutting down", exit_code: int = 0) -> None:
        """Stop everything that runs, then end."""
        ...
