"""Topological order and cycle detection for resource_deps (and image deps)."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence

__all__ = ["CycleError", "closest", "topological_order"]


class CycleError(ValueError):
    """A dependency cycle; ``cycle`` lists every node on it, the first repeated last."""

    def __init__(self, cycle: Sequence[str]) -> None:
        self.cycle = tuple(cycle)
        super().__init__("dependency cycle: " + " -> ".join(self.cycle))


def topological_order(nodes: Sequence[str], deps: Mapping[str, Sequence[str]]) -> list[str]:
    """Order ``nodes`` so that each comes after its deps, keeping the given order otherwise.

    Deps that are not nodes are ignored (the caller warns about them).

    Raises:
        CycleError: naming every node on the first cycle found.
    """
    known = set(nodes)
    order: list[str] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for root in nodes:
        if state.get(root) == 2:
            continue
        # Iterative DFS so that a 1,000-deep chain does not hit the recursion limit.
        path: list[str] = [root]
        iters = [iter([d for d in deps.get(root, ()) if d in known])]
        state[root] = 1
        while path:
            nxt = next(iters[-1], None)
            if nxt is None:
                done = path.pop()
                iters.pop()
                state[done] = 2
                order.append(done)
                continue
            st = state.get(nxt)
            if st == 2:
                continue
            if st == 1:
                start = path.index(nxt)
                raise CycleError([*path[start:], nxt])
            state[nxt] = 1
            path.append(nxt)
            iters.append(iter([d for d in deps.get(nxt, ()) if d in known]))
    return order


def closest(name: str, candidates: Sequence[str]) -> str | None:
    """The candidate most like ``name``, for "did you mean" hints."""
    found = difflib.get_close_matches(name, candidates, n=1, cutoff=0.5)
    return found[0] if found else None
