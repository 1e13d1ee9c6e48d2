"""Arguments every resource builtin shares: labels, links, trigger_mode.

One rule per argument for local_resource, k8s_resource, dc_resource and
link(), as Tilt applies them:

- ``labels``: a label or a list of labels; each must be a Kubernetes
  qualified name's name part (``validation.IsQualifiedName``) without a
  prefix ("cannot contain /": Tilt keeps prefixed labels for itself);
- ``links``: a URL string, a `link()`, or a list of these; a URL without a
  scheme gets ``http://`` (Tilt's ``parseAndMaybeAddScheme``); an empty URL,
  whitespace or a control character is refused, as Go's URL parser refuses
  them in a host (``link('foo bar')`` would never open);
- ``trigger_mode``: ``TRIGGER_MODE_AUTO`` or ``TRIGGER_MODE_MANUAL`` (None:
  the Tiltfile's default).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from tilt.model import Link, TriggerMode
from tilt.tiltfile._context import TiltfileError, typename, unique

__all__ = ["check_label", "labels_arg", "links_arg", "trigger_mode_arg", "url_arg"]

# Kubernetes' qualified-name rule (k8s.io/apimachinery validation.IsQualifiedName).
_LABEL_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_MAX = 63
_LABEL_RULE = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'MyName', or 'my.name', or '123-abc')"
)
_URL_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def check_label(fn: str, v: object) -> str:
    """One label, or a `TiltfileError` naming what is wrong with it."""
    if not isinstance(v, str):
        raise TiltfileError(
            f"{fn}: for parameter 'labels': got {typename(v)}, want string (a label)"
        )
    problem = ""
    if "/" in v:
        problem = "cannot contain /"
    elif not v:
        problem = "name part must be non-empty"
    elif len(v) > _LABEL_MAX:
        problem = f"name part must be no more than {_LABEL_MAX} characters"
    elif not _LABEL_RE.match(v):
        problem = _LABEL_RULE
    if problem:
        raise TiltfileError(f'{fn}: Invalid label "{v}": {problem}')
    return v


def labels_arg(fn: str, v: object) -> tuple[str, ...]:
    """``labels=``: a label or a list of labels, each once, in order."""
    if v is None:
        return ()
    if isinstance(v, str):
        return (check_label(fn, v),)
    if not isinstance(v, list | tuple):
        raise TiltfileError(
            f"{fn}: for parameter 'labels': got {typename(v)}, want a label or a list of labels"
        )
    return tuple(unique(check_label(fn, item) for item in v))


def url_arg(fn: str, url: str) -> str:
    """A link's URL as Tilt keeps it: ``http://`` added when it names no scheme."""
    if not url:
        raise TiltfileError(f'{fn}: validating URL "": url empty')
    if any(c.isspace() for c in url):
        raise TiltfileError(f'{fn}: validating URL "{url}": must not contain whitespace')
    if _CONTROL_RE.search(url):
        raise TiltfileError(f'{fn}: validating URL "{url}": invalid control character in URL')
    return url if _URL_SCHEME_RE.match(url) else "http://" + url


def links_arg(fn: str, v: object) -> tuple[Link, ...]:
    """``links=``: a URL string, a link(), or a list of these."""
    items: Sequence[object]
    if v is None:
        items = ()
    elif isinstance(v, list | tuple):
        items = v
    else:
        items = (v,)
    out: list[Link] = []
    for i, item in enumerate(items):
        if isinstance(item, Link):
            out.append(item)
        elif isinstance(item, str):
            out.append(Link(url=url_arg(fn, item)))
        else:
            where = f"item {i}: " if isinstance(v, list | tuple) else ""
            raise TiltfileError(
                f"{fn}: for parameter 'links': {where}got {typename(item)}, "
                "want a string, a link, or a list of these"
            )
    return tuple(out)


def trigger_mode_arg(fn: str, v: object) -> TriggerMode | None:
    """``trigger_mode=``: a TRIGGER_MODE_* value (None: the Tiltfile's default)."""
    if v is None or isinstance(v, TriggerMode):
        return v
    raise TiltfileError(
        f"{fn}: for parameter 'trigger_mode': got {typename(v)}, "
        "want TRIGGER_MODE_AUTO or TRIGGER_MODE_MANUAL"
    )
