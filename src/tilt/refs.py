"""Image references: Docker's grammar and normalization, and Tilt's registry rewrite.

One module for every place that reads or writes an image reference: the
loader (validating ``docker_build('ref')``, matching a build to the images a
YAML or a Compose file uses) and the runtime (tagging, pushing, naming what
the cluster pulls).

- `parse_ref` follows ``github.com/distribution/reference`` (what Docker and
  Tilt parse with): ``[domain/]path[:tag][@digest]``; a first component is a
  domain when it holds ``.`` or ``:`` or is ``localhost``; without one the
  domain is ``docker.io``, and a one-component Docker Hub path gets
  ``library/``. Errors are worded like Docker's (``invalid reference format``).
- `familiar_name` is Docker's short form (``docker.io/library/redis`` ->
  ``redis``).
- `Registry` is ``default_registry(host, host_from_cluster=, single_name=)``:
  an image ``name`` is pushed as ``host/<name with / : @ as _>`` (a name
  already under ``host/`` is kept), and the cluster pulls it from
  ``host_from_cluster`` when that is set (Tilt's ``RegistryHosting``:
  ``host`` as seen from the user, ``hostFromContainerRuntime`` as seen from
  the cluster). With ``single_name`` every image goes to one repository and
  its name moves into the tag.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

__all__ = [
    "DEFAULT_DOMAIN",
    "ImageRef",
    "Registry",
    "familiar_name",
    "normalize",
    "parse_ref",
    "ref_error",
    "refs_match",
    "repository",
    "tag_of",
    "with_tag",
]

DEFAULT_DOMAIN = "docker.io"
_LEGACY_DOMAIN = "index.docker.io"
_OFFICIAL_PREFIX = "library/"

# The grammar of github.com/distribution/reference.
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*(?::[0-9]+)?)"
_PATH_COMPONENT = r"(?:[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REF_RE = re.compile(rf"^({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?$")
_NAME_MAX = 255
_ESCAPE_RE = re.compile(r"[/:@]")


@dataclass(frozen=True, kw_only=True)
class ImageRef:
    """A parsed, normalized image reference.

    Attributes:
        domain: The registry host (``docker.io`` when the ref names none).
        path: The repository path (``library/redis`` for ``redis``).
        tag: The tag, or ``""``.
        digest: The digest (``sha256:...``), or ``""``.
    """

    domain: str
    path: str
    tag: str = ""
    digest: str = ""

    @property
    def name(self) -> str:
        """The repository, normalized (``docker.io/library/redis``)."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar(self) -> str:
        """Docker's short form of the repository (``redis``, ``localhost:5000/app``)."""
        if self.domain == DEFAULT_DOMAIN:
            return self.path.removeprefix(_OFFICIAL_PREFIX)
        return self.name

    def __str__(self) -> str:
        s = self.name
        if self.tag:
            s += ":" + self.tag
        if self.digest:
            s += "@" + self.digest
        return s


def ref_error(ref: str) -> str:
    """Why ``ref`` is not a valid reference, worded like Docker ("" when it is valid)."""
    m = _REF_RE.match(ref)
    if not m:
        if _REF_RE.match(ref.lower()):
            return "invalid reference format: repository name must be lowercase"
        return "invalid reference format"
    if len(m.group(1)) > _NAME_MAX:
        return f"repository name must not be more than {_NAME_MAX} characters"
    return ""


@functools.lru_cache(maxsize=4096)
def parse_ref(ref: str) -> ImageRef:
    """Parse and normalize a Docker image reference (results are cached: refs repeat).

    Raises:
        ValueError: ``ref`` is not a valid reference (the message is Docker's).
    """
    m = _REF_RE.match(ref)
    if m is None or len(m.group(1)) > _NAME_MAX:
        raise ValueError(ref_error(ref))
    name, tag, digest = m.group(1), m.group(2) or "", m.group(3) or ""
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        domain, path = first, rest
    else:
        domain, path = DEFAULT_DOMAIN, name
    if domain == _LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = _OFFICIAL_PREFIX + path
    return ImageRef(domain=domain, path=path, tag=tag, digest=digest)


def normalize(ref: str) -> str:
    """The fully qualified form: ``redis`` -> ``docker.io/library/redis``."""
    return str(parse_ref(ref))


def _split(ref: str) -> tuple[str, str]:
    """(repository as written, tag) without parsing; the digest is dropped."""
    ref = ref.split("@", 1)[0]
    head, sep, last = ref.rpartition("/")
    if ":" in last:
        name, tag = last.rsplit(":", 1)
        return head + sep + name, tag
    return ref, ""


def repository(ref: str) -> str:
    """The reference as written, without tag or digest (``localhost:5000/app:v1`` -> ``...app``)."""
    return _split(ref)[0]


def tag_of(ref: str) -> str:
    """The tag of ``ref`` as written ("" when it has none)."""
    return _split(ref)[1]


def with_tag(ref: str, tag: str) -> str:
    """``ref``'s repository with ``tag``."""
    return f"{repository(ref)}:{tag}"


def familiar_name(ref: str) -> str:
    """Docker's short form of ``ref``'s repository (``docker.io/library/redis`` -> ``redis``).

    A ref that does not parse is returned without its tag, as written.
    """
    try:
        return parse_ref(ref).familiar
    except ValueError:
        return repository(ref)


def refs_match(build_ref: str, used_ref: str) -> bool:
    """Whether an image a resource uses (``used_ref``) is the one a build makes.

    As in Tilt: names are compared after normalization; a tag on the build's ref
    must match too, while an untagged build ref matches any tag of that name.
    """
    try:
        b, u = parse_ref(build_ref), parse_ref(used_ref)
    except ValueError:
        return False
    if b.name != u.name:
        return False
    return not b.tag or b.tag == u.tag


@dataclass(frozen=True, kw_only=True)
class Registry:
    """Where images go: ``default_registry(host, host_from_cluster=, single_name=)``.

    Attributes:
        host: The registry as the user's machine sees it (where tilt pushes).
        host_from_cluster: The same registry as the cluster's container
            runtime sees it ("" = ``host``); only the ref a cluster pulls uses it.
        single_name: Push every image to ``host/single_name``, the image's
            name moving into the tag.
    """

    host: str
    host_from_cluster: str = ""
    single_name: str = ""

    def _repository(self, host: str, ref: str) -> str:
        name = familiar_name(ref)
        if name.startswith(host + "/"):
            # Already named for this registry (tilt-dev/tilt#4911): keep it.
            return name
        if self.single_name:
            return f"{host}/{self.single_name}"
        return f"{host}/{_ESCAPE_RE.sub('_', name)}"

    def push_repository(self, ref: str) -> str:
        """The repository ``ref`` is pushed to, as the user's machine names it."""
        return self._repository(self.host, ref)

    def cluster_repository(self, ref: str) -> str:
        """The repository the cluster pulls ``ref`` from: the pushed one, seen from the cluster.

        Derived from the push repository so the two always name the same image, also
        for a name already under ``host`` (kept as is when pushed).
        """
        pushed = self.push_repository(ref)
        if self.host_from_cluster and pushed.startswith(self.host + "/"):
            return self.host_from_cluster + pushed[len(self.host) :]
        return pushed

    def tag(self, ref: str, tag: str) -> str:
        """The tag ``ref`` is pushed with: ``tag``, or with ``single_name`` the name and ``tag``.

        With one repository for every image, the image's name has to live in the tag.
        """
        name = familiar_name(ref)
        if self.single_name and not name.startswith(self.host + "/"):
            return f"{_ESCAPE_RE.sub('_', name)}-{tag}"
        return tag

    def push_ref(self, ref: str, tag: str) -> str:
        """``repository:tag`` tilt pushes ``ref`` built with ``tag`` as."""
        return f"{self.push_repository(ref)}:{self.tag(ref, tag)}"

    def cluster_ref(self, ref: str, tag: str) -> str:
        """``repository:tag`` the cluster pulls ``ref`` built with ``tag`` as."""
        return f"{self.cluster_repository(ref)}:{self.tag(ref, tag)}"
