"""The api's logic, kept apart so the test resource can test it without a server."""

from __future__ import annotations


def greet(name: str) -> str:
    """The greeting the api serves."""
    name = name.strip() or "stranger"
    return f"Hello, {name}!"
