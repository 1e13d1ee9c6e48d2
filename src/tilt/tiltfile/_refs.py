"""Image references: parsing and Tilt's rule for matching a build to a use."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ImageRef", "parse_ref", "refs_match"]

DEFAULT_DOMAIN = "docker.io"


@dataclass(frozen=True, kw_only=True)
class ImageRef:
    domain: str
    path: str
    tag: str = ""
    digest: str = ""

    @property
    def name(self) -> str:
        """The repository, normalized (``docker.io/library/redis``)."""
        return f"{self.domain}/{self.path}"

    def __str__(self) -> str:
        s = self.name
        if self.tag:
            s += ":" + self.tag
        if self.digest:
            s += "@" + self.digest
        return s


def parse_ref(ref: str) -> ImageRef:
    """Parse a Docker image reference the way Docker normalizes it.

    Raises:
        ValueError: when ``ref`` is not a valid reference.
    """
    s = ref.strip()
    if not s or any(c.isspace() for c in s):
        raise ValueError(f"invalid image reference {ref!r}")
    digest = ""
    if "@" in s:
        s, digest = s.split("@", 1)
    tag = ""
    last = s.rsplit("/", 1)[-1]
    if ":" in last:
        s, tag = s.rsplit(":", 1)
    first, _, rest = s.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        domain, path = first, rest
    else:
        domain, path = DEFAULT_DOMAIN, s
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = "library/" + path
    if not path or path != path.lower() or path.startswith("/") or path.endswith("/"):
        raise ValueError(f"invalid image reference {ref!r}: repository names must be lowercase")
    return ImageRef(domain=domain, path=path, tag=tag, digest=digest)


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
