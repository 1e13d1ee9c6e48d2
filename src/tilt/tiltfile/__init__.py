"""The Tiltfile loader: runs a Tiltfile and returns the validated resource graph.

Pure: it starts no engine and draws no UI. ``local()``, ``helm()`` and
``kustomize()`` run commands, as they do in Tilt.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence

from tilt.model import TiltfileResult
from tilt.tiltfile._context import LoadState, TiltfileError
from tilt.tiltfile._loader import TiltfileLoadError, display_path

__all__ = ["TiltfileLoadError", "load_tiltfile"]


def _register_builtins() -> None:
    # Importing a family registers its builtins.
    from tilt.tiltfile import (  # noqa: F401
        _compose,
        _config,
        _data,
        _delivery,
        _extensions,
        _images,
        _k8s,
        _local,
        _settings,
        _v1alpha1,
    )


def load_tiltfile(
    path: str,
    args: Sequence[str] = (),
    *,
    subcommand: str = "up",
    env: Mapping[str, str] | None = None,
) -> TiltfileResult:
    """Load the Tiltfile at ``path`` with the arguments given after ``--``.

    Raises:
        TiltfileLoadError: a user error, with its file:line and a one-message explanation.
    """
    from tilt.tiltfile._assemble import assemble
    from tilt.tiltfile._loader import evaluate

    _register_builtins()
    main = os.path.abspath(path)
    if os.path.isdir(main):
        main = os.path.join(main, "Tiltfile")
    if not os.path.isfile(main):
        raise TiltfileLoadError(f"no Tiltfile at {display_path(main)}", None)
    state = LoadState(
        main_path=main,
        args=tuple(args),
        subcommand=subcommand,
        env=dict(os.environ if env is None else env),
    )
    evaluate(state)
    try:
        result = assemble(state)
    except TiltfileError as e:
        raise TiltfileLoadError(e.message, e.location, _column_of(e)) from None
    from tilt.tiltfile._v1alpha1 import api_objects

    objects = api_objects(state)
    return dataclasses.replace(result, api_objects=objects) if objects else result


def _column_of(e: TiltfileError) -> int:
    """For an error found after evaluation, the column of the call it names (0 if unknown).

    Such messages start with the builtin's name (``k8s_resource: ...``); the call is
    found on the line the declaration was made.
    """
    from tilt.tiltfile._context import BUILTINS
    from tilt.tiltfile._loader import call_column

    if e.location is None:
        return 0
    name = e.message.split(":", 1)[0].split("(", 1)[0].strip()
    if name not in BUILTINS:
        return 0
    return call_column(os.path.abspath(e.location.file), e.location.line, name.rsplit(".", 1)[-1])
