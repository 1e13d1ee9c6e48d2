"""A tiny shop: the logic the unit tests check and the server serves."""
