"""The terminal UI: a Textual app that observes the engine and sends intents back.

Importing this package is light (no Textual): `tilt.ui.app` holds the app.
"""

from tilt.ui.controller import Controller

__all__ = ["Controller"]
