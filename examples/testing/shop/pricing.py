"""Prices with tax and discounts."""

from __future__ import annotations

TAX_RATE = 0.08


def with_tax(cents: int) -> int:
    """The price including tax, rounded to the cent."""
    return round(cents * (1 + TAX_RATE))


def discounted(cents: int, percent: int) -> int:
    """The price after a discount of ``percent`` (0-100)."""
    if not 0 <= percent <= 100:
        raise ValueError(f"discount out of range: {percent}")
    return cents * (100 - percent) // 100
