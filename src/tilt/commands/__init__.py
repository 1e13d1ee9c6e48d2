"""The `tilt` subcommands that run or talk to the engine (imported lazily by `tilt.cli`)."""
