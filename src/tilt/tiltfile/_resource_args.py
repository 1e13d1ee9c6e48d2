"""Arguments every resource builtin shares: labels, links, trigger_mode.

One rule per argument for local_resource, k8s_resource, dc_resource and
link(), as Tilt applies them:

- ``labels``: a label or a list of labels; each must be a Kubernetes
  qualified name's name part (``validation.IsQualifiedName``) without a
  prefix ("cannot contain /": Tilt keeps prefixed labels for itself);
- ``links``: a URL string, a `link()`, or a list of these; a URL without a
  scheme gets ``http://`` (Tilt's ``parseAndMaybeAddScheme``); an empty URL,
  a control character or whitespace in the host is refused, as Go's URL parser
  refuses them; whitespace elsewhere (``link('foo bar')``) Tilt accepts, so it
  is a warning here;
- ``trigger_mode``: ``TRIGGER_MODE_AUTO`` or ``TRIGGER_MODE_MANUAL`` (None:
  the Tiltfile's default).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

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


def url_arg(fn: str, url: str, warn: Callable[[str], None] | None = None) -> str:
    """A link's URL as Tilt keeps it: ``http://`` added when it names no scheme.

    Errors where Go's ``url.Parse`` (Tilt's check) fails: an empty URL, a control
    character, whitespace in the host. Whitespace elsewhere Tilt accepts: a warning.
    """
    if not url:
        raise TiltfileError(f'{fn}: validating URL "": url empty')
    if _CONTROL_RE.search(url):
        raise TiltfileError(f'{fn}: validating URL "{url}": invalid control character in URL')
    if any(c.isspace() for c in url):
        _, sep, rest = url.partition("://")
        host = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0] if sep else ""
        bad = next((c for c in host if c.isspace()), "")
        if bad:
            raise TiltfileError(
                f'{fn}: validating URL "{url}": invalid character "{bad}" in host name'
            )
        if warn is not None:
            warn(f'{fn}: URL "{url}" contains whitespace (Tilt accepts it; a browser may not)')
    return url if _URL_SCHEME_RE.match(url) else "http://" + url


def links_arg(fn: str, v: object, warn: Callable[[str], None] | None = None) -> tuple[Link, ...]:
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
            out.append(Link(url=url_arg(fn, item, warn)))
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
