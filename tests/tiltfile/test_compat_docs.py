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


def test_relpath_follows_the_api_reference_examples(tiltfile: Any, tmp_path: Any) -> None:
    # os.path.relpath works on the two strings as given (Go's filepath.Rel): the
    # reference's examples, plus two relative paths, which need no folder.
    root = str(tmp_path)
    data = tiltfile(
        f"print(os.path.relpath('{root}/foo/bar'))\n"
        f"print(os.path.relpath('{root}/foo/bar', '{root}/foo'))\n"
        f"print(os.path.relpath('{root}/foo', '{root}/baz'))\n"
        "print(os.path.relpath('p/q', 'p'), os.path.relpath('x', 'y/z'), "
        "os.path.relpath('a', 'a'))\n"
    )
    assert data["logs"] == ["foo/bar", "bar", "../foo", "q ../../x ."]


def test_relpath_of_an_absolute_and_a_relative_path_fails(tiltfile_error: Any) -> None:
    # The reference: relpath('/code/foo', 'other/path') --> error (it was '../../..').
    err = tiltfile_error("os.path.relpath('/code/foo', 'other/path')\n")
    assert "os.path.relpath: Rel: can't make /code/foo relative to other/path" in err


def test_relpath_of_a_relative_target_against_the_default_base_fails(
    tiltfile_error: Any,
) -> None:
    # The default base is the Tiltfile's absolute folder; a relative target is not
    # resolved first, so the two cannot be related (Tilt's error, not 'foo/bar').
    err = tiltfile_error("os.path.relpath('foo/bar')\n")
    assert "Rel: can't make foo/bar relative to" in err


def test_relpath_from_a_base_that_climbs_out_fails(tiltfile_error: Any) -> None:
    err = tiltfile_error("os.path.relpath('y', '../x')\n")
    assert "Rel: can't make y relative to ../x" in err


def test_docker_prune_settings_by_builds_or_by_hours_not_both(
    tiltfile: Any, tiltfile_error: Any
) -> None:
    # The reference: pruning runs every num_builds builds or, when that is unset, every
    # interval_hrs hours; Tilt refuses both at once (disable defaults to False).
    tiltfile("docker_prune_settings()\ndocker_prune_settings(num_builds=5, max_age_mins=30)\n")
    tiltfile("docker_prune_settings(False, 120, 0, 2, 3)\n")
    err = tiltfile_error("docker_prune_settings(num_builds=5, interval_hrs=2)\n")
    assert "can't specify both 'prune every X builds' and 'prune every Y hours'" in err


COMPOSE_APP = "services:\n  app:\n    image: app\n"


def test_entrypoint_of_an_image_a_compose_service_runs_fails(tiltfile_error: Any) -> None:
    # The reference: docker_build's entrypoint is not supported for Docker Compose
    # resources; Tilt fails the load rather than run the service without it.
    err = tiltfile_error(
        "docker_build('app', '.', entrypoint='./run.sh')\ndocker_compose('compose.yml')\n",
        files={"Dockerfile": "FROM alpine\n", "compose.yml": COMPOSE_APP},
    )
    assert "docker_build/custom_build.entrypoint not supported for Docker Compose" in err
    err = tiltfile_error(
        "custom_build('app', 'true', ['.'], entrypoint=['run'])\ndocker_compose('compose.yml')\n",
        files={"compose.yml": COMPOSE_APP},
    )
    assert "entrypoint not supported for Docker Compose resources" in err


def test_entrypoint_stays_allowed_for_kubernetes_next_to_compose(tiltfile: Any) -> None:
    data = tiltfile(
        "docker_build('app', '.')\ndocker_build('k', '.', entrypoint='./run.sh')\n"
        "docker_compose('compose.yml')\nk8s_yaml('pod.yaml')\n",
        files={
            "Dockerfile": "FROM alpine\n",
            "compose.yml": COMPOSE_APP,
            "pod.yaml": "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n"
            "  containers:\n  - name: c\n    image: k\n",
        },
    )
    assert sorted(r["name"] for r in data["resources"]) == ["app", "p"]


def test_initial_sync_may_open_the_step_list_before_fall_back_on(tiltfile: Any) -> None:
    # The reference: initial_sync goes at the start of the steps, before any
    # fall_back_on, sync, run or restart_container (it was refused before a fall_back_on).
    data = tiltfile(
        "docker_build('img', '.', live_update=[initial_sync(), fall_back_on('a.txt'),"
        " sync('.', '/app'), run('make')])\n",
        files={"Dockerfile": "FROM alpine\n", "a.txt": ""},
    )
    kinds = [s["kind"] for s in data["images"][0]["live_update"]]
    assert kinds == ["initial_sync", "fall_back_on", "sync", "run"]


def test_initial_sync_after_a_sync_still_fails(tiltfile_error: Any) -> None:
    err = tiltfile_error(
        "docker_build('img', '.', live_update=[fall_back_on('a.txt'), sync('.', '/app'),"
        " initial_sync()])\n",
        files={"Dockerfile": "FROM alpine\n", "a.txt": ""},
    )
    assert "initial_sync must precede all sync and run steps" in err
