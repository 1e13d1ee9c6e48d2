"""Removing the old images docker_build built (``docker_prune_settings``).

`prune` is one pass, blocking (run it in a thread), against the Docker engine:

- it looks only at images carrying ``dev.tilt.built=true`` (`BUILT_LABELS`,
  set by every docker_build) and, when ``repositories`` is given, only at those
  with a tag in one of them (the running Tiltfile's images, as Tilt does);
- it keeps, per repository, the ``keep_recent`` most recently created ones,
  every image a container uses (running or stopped) and every image named in
  ``keep`` (what the session deployed last); the rest, when older than
  ``max_age_s``, are removed tag by tag, without force, so the engine itself
  refuses to drop an image a container started using meanwhile;
- it prunes the build cache older than ``max_age_s`` (with the same label
  filter as Tilt).

The result is a `PruneReport`; its `PruneReport.lines` are the log lines
(``[Docker Prune] removed 2 images, reclaimed 3.1MB``). Errors about a single
image are recorded in `PruneReport.errors` and skipped; an unreachable engine
raises (the caller logs it).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from tilt.docker.build import BUILT_LABELS
from tilt.refs import repository

__all__ = ["BUILT_FILTER", "PruneReport", "human_size", "prune"]

#: The engine filter matching the images docker_build built.
BUILT_FILTER = "dev.tilt.built=" + BUILT_LABELS["dev.tilt.built"]


@dataclass
class PruneReport:
    """What one `prune` pass removed."""

    #: Ids of the images deleted.
    images: list[str] = field(default_factory=list)
    #: Sum of their sizes, in bytes (layers they shared may be counted twice).
    image_bytes: int = 0
    caches: int = 0
    cache_bytes: int = 0
    #: One message per image that could not be removed, or a failed cache prune.
    errors: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The summary lines for the log (nothing removed: one line saying so)."""
        out = [
            f"[Docker Prune] removed {len(self.images)} images, "
            f"reclaimed {human_size(self.image_bytes)}"
        ]
        if self.caches:
            out.append(
                f"[Docker Prune] removed {self.caches} caches, "
                f"reclaimed {human_size(self.cache_bytes)}"
            )
        return out


def human_size(n: int) -> str:
    """Docker's decimal units: ``512B``, ``3.1kB``, ``12.5MB``, ``1.2GB``."""
    size = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f}{unit}" if unit == "B" else f"{size:.3g}{unit}"
        size /= 1000
    raise AssertionError("unreachable")


def _repos_of(img: dict[str, Any]) -> list[str]:
    tags = [t for t in img.get("RepoTags") or () if t and t != "<none>:<none>"]
    return sorted({repository(t) for t in tags})


def _tags_of(img: dict[str, Any]) -> list[str]:
    return [t for t in img.get("RepoTags") or () if t and t != "<none>:<none>"]


def prune(
    api: Any,
    *,
    now: float,
    max_age_s: float,
    keep_recent: int,
    repositories: Collection[str] | None = None,
    keep: Collection[str] = (),
) -> PruneReport:
    """One pass; see the module docstring.

    Args:
        api: A ``docker.APIClient`` (``docker.from_env().api``).
        now: The current time (Unix seconds); images created before
            ``now - max_age_s`` are old.
        max_age_s: Images and build cache younger than this are kept.
        keep_recent: How many of each repository's newest images are kept.
        repositories: Only images tagged in one of these repositories are
            candidates (None: every labelled image).
        keep: Image refs (``name:tag``) or ids that are never removed.
    """
    report = PruneReport()
    images: list[dict[str, Any]] = api.images(filters={"label": BUILT_FILTER})
    used = {str(c.get("ImageID", "")) for c in api.containers(all=True)}
    wanted = set(repositories) if repositories is not None else None
    keep_set = set(keep)

    protected: set[str] = set()
    by_repo: dict[str, list[dict[str, Any]]] = {}
    for img in images:
        for repo in _repos_of(img):
            by_repo.setdefault(repo, []).append(img)
    for members in by_repo.values():
        members.sort(key=lambda i: (int(i.get("Created", 0)), str(i["Id"])), reverse=True)
        protected.update(str(i["Id"]) for i in members[: max(keep_recent, 0)])

    cutoff = now - max_age_s
    for img in sorted(images, key=lambda i: int(i.get("Created", 0))):
        image_id = str(img["Id"])
        tags = _tags_of(img)
        repos = _repos_of(img)
        if wanted is not None and not wanted.intersection(repos):
            continue
        if (
            image_id in protected
            or image_id in used
            or int(img.get("Created", 0)) > cutoff
            or image_id in keep_set
            or keep_set.intersection(tags)
        ):
            continue
        try:
            # By name, without force: the engine refuses a tag a container uses.
            for name in tags or [image_id]:
                api.remove_image(name, noprune=False)
        except Exception as e:  # one image failing does not stop the pass
            report.errors.append(f"{tags[0] if tags else image_id}: {e}")
            continue
        report.images.append(image_id)
        report.image_bytes += int(img.get("Size", 0) or 0)

    try:
        caches = api.prune_builds(
            filters={"label": BUILT_FILTER, "until": f"{max(int(max_age_s), 0)}s"}
        )
    except Exception as e:  # an engine without the build-prune endpoint
        report.errors.append(f"build cache: {e}")
    else:
        report.caches = len(caches.get("CachesDeleted") or ())
        report.cache_bytes = int(caches.get("SpaceReclaimed") or 0)
    return report
