"""The fixture suites under fixtures/ are run by tilt as subprocesses, never collected here."""

collect_ignore_glob = ["fixtures/*"]
