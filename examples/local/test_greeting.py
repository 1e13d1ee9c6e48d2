"""Unit tests the `tests` resource runs on every change of the api's code."""

from __future__ import annotations

import unittest

from greeting import greet


class GreetTest(unittest.TestCase):
    def test_greets_by_name(self) -> None:
        self.assertEqual(greet("tilt"), "Hello, tilt!")

    def test_blank_name(self) -> None:
        self.assertEqual(greet("  "), "Hello, stranger!")


if __name__ == "__main__":
    unittest.main()
