"""tilt: a terminal-first dev loop driven by a Tiltfile."""

__all__ = ["__version__"]

__version__ = "0.1.0"
