"""Graphs of named nodes: topological order, cycles, closures, levels.

Used for resource_deps (the loader, the scheduler) and for images built FROM
other images (`tilt.image_graph`). ``deps`` maps a node to the nodes it
depends on; deps that are not nodes are ignored unless a function says so.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping, Sequence

__all__ = [
    "CycleError",
    "closest",
    "closure",
    "dependents_closure",
    "levels",
    "topological_order",
]


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


def closure(roots: Iterable[str], deps: Mapping[str, Sequence[str]]) -> list[str]:
    """``roots`` plus everything they depend on (transitively), dependencies first.

    A dependency with no entry in ``deps`` is still included (as a leaf). A
    cycle is not an error here (the loader rejects cycles before): each node
    appears once.
    """
    out: list[str] = []
    seen: set[str] = set()
    for root in roots:
        if root in seen:
            continue
        seen.add(root)
        # Iterative post-order DFS.
        stack: list[tuple[str, Iterator[str]]] = [(root, iter(deps.get(root, ())))]
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                out.append(node)
            elif nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, iter(deps.get(nxt, ()))))
    return out


def dependents_closure(roots: Iterable[str], deps: Mapping[str, Sequence[str]]) -> set[str]:
    """``roots`` plus every node that depends on one of them, transitively."""
    dependents: dict[str, list[str]] = {}
    for node, ds in deps.items():
        for d in ds:
            dependents.setdefault(d, []).append(node)
    hit = set(roots)
    todo = list(hit)
    while todo:
        for child in dependents.get(todo.pop(), ()):
            if child not in hit:
                hit.add(child)
                todo.append(child)
    return hit


def levels(nodes: Sequence[str], deps: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Group ``nodes`` into levels: each depends only on nodes of earlier levels.

    Nodes of one level are independent (they may run in parallel); within a
    level the given order is kept. Deps that are not nodes are ignored.

    Raises:
        CycleError: naming every node on the first cycle found.
    """
    known = set(nodes)
    own = {n: [d for d in deps.get(n, ()) if d in known] for n in nodes}
    level: dict[str, int] = {}
    for n in topological_order(nodes, own):
        level[n] = 1 + max((level[d] for d in own[n]), default=-1)
    out: list[list[str]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for n in nodes:
        out[level[n]].append(n)
    return out
