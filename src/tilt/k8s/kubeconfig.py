"""A kubeconfig pinned to tilt's context, for the commands tilt runs (as Tilt's frozen one).

``tilt up --context X``, ``k8s_context()`` and ``k8s_namespace()`` choose where tilt deploys;
a ``kubectl``/``helm`` in a ``k8s_custom_deploy`` ``apply_cmd`` or a ``local_resource`` would
otherwise follow the user's kubeconfig (its ``current-context``, which may be another cluster).
Tilt writes a kubeconfig holding only its context (with that context's cluster and user, file
references inlined, "minified and flattened") and sets ``KUBECONFIG`` to it for the commands
it runs. This module builds that file from the kubeconfig files alone (no cluster contact, no
Kubernetes client import), merged as ``kubectl`` merges ``$KUBECONFIG`` (the first file that
defines a name wins), with ``current-context`` set to tilt's context and the context's
namespace to tilt's namespace.

The file is written with mode 0600 in a private temporary directory (mode 0700) and removed
when tilt exits (`PinnedKubeconfig.remove`, also at interpreter exit).
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import os
import shutil
import tempfile
from typing import Any

import yaml

__all__ = ["KubeconfigError", "PinnedKubeconfig", "pinned_config"]

Obj = dict[str, Any]

#: File references inlined as their ``-data`` form (paths relative to their kubeconfig file).
_CLUSTER_FILES = {"certificate-authority": "certificate-authority-data"}
_USER_FILES = {"client-certificate": "client-certificate-data", "client-key": "client-key-data"}


class KubeconfigError(Exception):
    """The kubeconfig cannot give the chosen context; the message is for the user."""


def _paths(kubeconfig: str | None, env: dict[str, str] | None) -> list[str]:
    environ = os.environ if env is None else env
    raw = kubeconfig or environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
    return [os.path.expanduser(p) for p in raw.split(os.pathsep) if p]


def _inline(entry: Obj, files: dict[str, str], base: str) -> Obj:
    out = dict(entry)
    for ref, data in files.items():
        path = out.pop(ref, None)
        if not path or out.get(data):
            continue
        full = path if os.path.isabs(path) else os.path.join(base, path)
        try:
            with open(os.path.expanduser(full), "rb") as f:
                out[data] = base64.b64encode(f.read()).decode()
        except OSError as e:
            raise KubeconfigError(f"cannot read {ref} {full}: {e.strerror}") from None
    return out


def pinned_config(
    context: str = "",
    namespace: str = "",
    *,
    kubeconfig: str | None = None,
    env: dict[str, str] | None = None,
) -> Obj:
    """The kubeconfig (as a mapping) holding only ``context`` (the current one when empty),
    its cluster and user, with ``namespace`` (the context's own when empty).

    Raises:
        KubeconfigError: no such context, or a file it references cannot be read.
    """
    named: dict[str, dict[str, tuple[Obj, str]]] = {"contexts": {}, "clusters": {}, "users": {}}
    current = ""
    for path in _paths(kubeconfig, env):
        try:
            with open(path, encoding="utf-8") as f:
                data = yaml.safe_load(f) or {}
        except (OSError, yaml.YAMLError):
            continue  # kubectl skips a missing file in $KUBECONFIG too
        if not isinstance(data, dict):
            continue
        current = current or str(data.get("current-context") or "")
        base = os.path.dirname(os.path.abspath(path))
        for kind, entries in named.items():
            for item in data.get(kind) or []:
                if isinstance(item, dict) and item.get("name") and item["name"] not in entries:
                    entries[item["name"]] = (item, base)
    name = context or current
    if not name:
        raise KubeconfigError("no current context in the kubeconfig")
    if name not in named["contexts"]:
        raise KubeconfigError(f"context {name!r} not found in the kubeconfig")
    ctx_item, _ = named["contexts"][name]
    ctx: Obj = dict(ctx_item.get("context") or {})
    if namespace:
        ctx["namespace"] = namespace
    config: Obj = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": name,
        "contexts": [{"name": name, "context": ctx}],
        "clusters": [],
        "users": [],
        "preferences": {},
    }
    cluster = named["clusters"].get(str(ctx.get("cluster", "")))
    if cluster is not None:
        item, base = cluster
        inlined = _inline(item.get("cluster") or {}, _CLUSTER_FILES, base)
        config["clusters"].append({"name": item["name"], "cluster": inlined})
    user = named["users"].get(str(ctx.get("user", "")))
    if user is not None:
        item, base = user
        inlined = _inline(item.get("user") or {}, _USER_FILES, base)
        config["users"].append({"name": item["name"], "user": inlined})
    return config


class PinnedKubeconfig:
    """The pinned kubeconfig written to a private file (see the module docstring)."""

    def __init__(self, config: Obj) -> None:
        self._dir = tempfile.mkdtemp(prefix="tilt-kubeconfig-")  # mode 0700
        self.path = os.path.join(self._dir, "kubeconfig.yaml")
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            yaml.safe_dump(config, f, sort_keys=False)
        atexit.register(self.remove)

    @classmethod
    def write(
        cls,
        context: str = "",
        namespace: str = "",
        *,
        kubeconfig: str | None = None,
        env: dict[str, str] | None = None,
    ) -> PinnedKubeconfig:
        """`pinned_config` written to its private file. Raises `KubeconfigError`."""
        return cls(pinned_config(context, namespace, kubeconfig=kubeconfig, env=env))

    def remove(self) -> None:
        """Delete the file and its directory (safe to call twice)."""
        with contextlib.suppress(OSError):
            shutil.rmtree(self._dir)
        atexit.unregister(self.remove)
