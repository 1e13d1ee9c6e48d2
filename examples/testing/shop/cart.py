"""A cart of (name, cents) lines."""

from __future__ import annotations

from shop.pricing import with_tax


class Cart:
    def __init__(self) -> None:
        self.lines: list[tuple[str, int]] = []

    def add(self, name: str, cents: int) -> None:
        self.lines.append((name, cents))

    def total(self) -> int:
        return with_tax(sum(c for _, c in self.lines))
