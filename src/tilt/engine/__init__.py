"""The engine: one asyncio loop, one state, typed events, a scheduler.

`Engine` runs a Tiltfile's resources; `EngineState.snapshot()` is what every
observer reads. The engine imports no UI.
"""

from tilt.engine.engine import CiOutcome, Engine, EngineError

__all__ = ["CiOutcome", "Engine", "EngineError"]
