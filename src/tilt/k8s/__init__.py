"""Kubernetes, runtime-independent: context, apply, pods and status, logs, port-forwards,
exec-based live_update, `down` ordering and secret scrubbing. The engine runner plugs these in."""
