"""Differences from Tilt found by loading the examples of Tilt's own documentation (the
Tiltfile API reference and the guides on docs.tilt.dev); each fixture is our own minimal
Tiltfile exercising what the docs describe."""

from __future__ import annotations

from typing import Any


def test_name_is_main_only_in_the_main_tiltfile(tiltfile: Any) -> None:
    # The API reference: __name__ is "__main__" in the Tiltfile, so the Python idiom
    # holds there and not in a file it loads (load, load_dynamic or include).
    data = tiltfile(
        "load('./lib/Tiltfile', 'where')\n"
        "load_dynamic('./dyn/Tiltfile')\n"
        "include('./inc/Tiltfile')\n"
        "print('main', __name__ == '__main__', where)\n"
        "if __name__ == '__main__':\n"
        "    local_resource('only-main', 'true')\n",
        files={
            "lib/Tiltfile": "where = 'lib main' if __name__ == '__main__' else 'lib module'\n",
            "dyn/Tiltfile": "print('dyn', __name__ == '__main__', __name__ == __file__)\n",
            "inc/Tiltfile": "print('inc', __name__ == '__main__')\n",
        },
    )
    assert data["logs"] == ["dyn False True", "inc False", "main True lib module"]
    assert [r["name"] for r in data["resources"]] == ["only-main"]
