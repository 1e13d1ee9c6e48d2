"""Secret values never reach a log: `tilt.secrets.SecretScrubber`, under its Kubernetes name.

The scrubber is not Kubernetes-specific (the log store scrubs every line with it); this module
keeps the name the Kubernetes layer has always imported.
"""

from __future__ import annotations

from tilt.secrets import MIN_SECRET_LENGTH, SecretScrubber

__all__ = ["MIN_SECRET_LENGTH", "SecretScrubber"]
