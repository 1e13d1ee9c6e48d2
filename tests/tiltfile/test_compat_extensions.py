"""Extensions fetched as Tilt fetches them, from local git repositories (never the network).

The default repository's URL (https://github.com/tilt-dev/tilt-extensions) is redirected
to a local repository with git's own ``url.<base>.insteadOf``, so the real fetch path runs.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import write_tree
from tilt.tiltfile import TiltfileLoadError, _extensions, load_tiltfile
from tilt.tiltfile.dump import to_jsonable

GREETER_V1 = "def greet(name):\n    local_resource(name, 'echo v1', deps=['src'])\nVERSION = 'v1'\n"
GREETER_V2 = GREETER_V1.replace("v1", "v2")


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def _repo(path: Path, files: dict[str, str], branch: str = "main") -> Path:
    write_tree(path, files)
    _git(path, "init", "-q", "-b", branch)
    _git(path, "add", "-A")
    _git(path, "commit", "-q", "-m", "init")
    return path


def _commit(repo: Path, files: dict[str, str], message: str = "change") -> None:
    write_tree(repo, files)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message)


@pytest.fixture
def origin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A local stand-in for tilt-dev/tilt-extensions, reached through the default URL."""
    repo = _repo(tmp_path / "origin", {"greeter/Tiltfile": GREETER_V1, "README.md": "exts\n"})
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", f"url.file://{repo}.insteadOf")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", _extensions.DEFAULT_REPO_URL)
    _extensions._UPDATED.clear()
    return repo


def _load(root: Path, text: str, subcommand: str = "up") -> dict:  # type: ignore[type-arg]
    write_tree(root, {"Tiltfile": text})
    return to_jsonable(load_tiltfile(str(root / "Tiltfile"), subcommand=subcommand))  # type: ignore[no-any-return]


def _cache(tmp_path: Path) -> Path:
    data = Path(__import__("os").environ["XDG_DATA_HOME"])
    return data / "tilt-dev" / "tilt_modules" / "github.com" / "tilt-dev" / "tilt-extensions"


APP = "load('ext://greeter', 'greet', 'VERSION')\nprint(VERSION)\ngreet('hello')\n"


def test_default_repo_is_cloned_into_the_data_folder(tmp_path: Path, origin: Path) -> None:
    data = _load(tmp_path / "app", APP)
    assert data["logs"] == ["v1"]
    cache = _cache(tmp_path)
    assert (cache / "greeter" / "Tiltfile").read_text() == GREETER_V1
    # shallow: one commit
    assert _git(cache, "rev-list", "--count", "HEAD").strip() == "1"
    assert str(cache / "greeter" / "Tiltfile") in data["files_read"]
    # Called from the main Tiltfile: deps resolve against the app's folder (Tilt's rule).
    (res,) = data["resources"]
    assert res["local"]["deps"] == [str(tmp_path / "app" / "src")]
    # The implied objects are kept in the graph, as Tilt registers them.
    objects = {(o["kind"], o["name"]): o["spec"] for o in data["api_objects"]}
    assert objects[("ExtensionRepo", "default")]["url"] == _extensions.DEFAULT_REPO_URL
    assert objects[("ExtensionRepo", "default")]["ref"] == "HEAD"
    assert objects[("Extension", "greeter")]["repoPath"] == "greeter"


def test_branch_is_updated_by_up_once_per_process(tmp_path: Path, origin: Path) -> None:
    assert _load(tmp_path / "app", APP)["logs"] == ["v1"]
    _commit(origin, {"greeter/Tiltfile": GREETER_V2})
    # Same process, same session: no second fetch.
    assert _load(tmp_path / "app", APP)["logs"] == ["v1"]
    # Not `up`: the cached copy, no network.
    _extensions._UPDATED.clear()
    assert _load(tmp_path / "app", APP, subcommand="ci")["logs"] == ["v1"]
    # A new `tilt up`: the branch is fetched again.
    _extensions._UPDATED.clear()
    assert _load(tmp_path / "app", APP)["logs"] == ["v2"]


def test_cached_copy_is_reused_offline_with_a_warning(tmp_path: Path, origin: Path) -> None:
    assert _load(tmp_path / "app", APP)["logs"] == ["v1"]
    origin.rename(tmp_path / "gone")  # the remote is unreachable now
    _extensions._UPDATED.clear()
    data = _load(tmp_path / "app", APP)
    assert data["logs"][-1] == "v1"
    (warning,) = data["warnings"]
    assert warning["message"].startswith(
        f"extension repo default: could not update {_extensions.DEFAULT_REPO_URL} (ref HEAD): "
    )
    assert "using the copy fetched" in warning["message"]


def test_fetch_failure_says_which_url_what_git_said_and_how_to_vendor(
    tmp_path: Path, origin: Path
) -> None:
    origin.rename(tmp_path / "gone")
    write_tree(tmp_path / "app", {"Tiltfile": APP})
    with pytest.raises(TiltfileLoadError) as info:
        load_tiltfile(str(tmp_path / "app" / "Tiltfile"))
    msg = info.value.render()
    first = msg.splitlines()[0]
    assert "Tiltfile:1:1: loading extension repo default: fetching " in first
    assert f"fetching {_extensions.DEFAULT_REPO_URL} (ref HEAD)" in first
    assert "said: fatal:" in first  # git's own words
    vendor = tmp_path / "app" / "tilt_modules" / "greeter" / "Tiltfile"
    assert f"vendor it: put its Tiltfile at {vendor}" in msg
    assert not _cache(tmp_path).exists()  # no half checkout left behind


def test_pinned_tag_is_never_fetched_again(tmp_path: Path, origin: Path) -> None:
    _git(origin, "tag", "v1.0")
    _commit(origin, {"greeter/Tiltfile": GREETER_V2})
    text = (
        f"v1alpha1.extension_repo(name='default', url='{_extensions.DEFAULT_REPO_URL}', "
        "ref='v1.0')\n" + APP
    )
    assert _load(tmp_path / "app", text)["logs"] == ["v1"]
    origin.rename(tmp_path / "gone")
    _extensions._UPDATED.clear()
    data = _load(tmp_path / "app", text)
    assert data["logs"] == ["v1"]
    assert data["warnings"] == []  # a tag is not updated: no fetch, no warning


def test_extension_repo_and_extension_from_a_file_url(tmp_path: Path, origin: Path) -> None:
    # file:// repositories are folders used in place (Tilt), here with a nested repo_path.
    write_tree(tmp_path / "myexts", {"tools/hello/Tiltfile": "HELLO = 'from file repo'\n"})
    data = _load(
        tmp_path / "app",
        f"v1alpha1.extension_repo(name='mine', url='file://{tmp_path}/myexts')\n"
        "v1alpha1.extension(name='hello', repo_name='mine', repo_path='tools/hello', "
        "args=['--x'])\n"
        "load('ext://hello', 'HELLO')\nprint(HELLO)\n",
    )
    assert data["logs"] == ["from file repo"]
    objects = {(o["kind"], o["name"]): o for o in data["api_objects"]}
    assert objects[("Extension", "hello")]["spec"] == {
        "repoName": "mine",
        "repoPath": "tools/hello",
        "args": ["--x"],
    }
    location = objects[("ExtensionRepo", "mine")]["location"]
    assert (location["file"], location["line"]) == (str(tmp_path / "app" / "Tiltfile"), 1)


def test_file_url_with_a_ref_is_cloned_at_that_ref(tmp_path: Path) -> None:
    # Beyond Tilt (which refuses a ref on file://): a git repository there is cloned at it.
    repo = _repo(tmp_path / "gitexts", {"hi/Tiltfile": "HI = 'one'\n"})
    _git(repo, "tag", "first")
    _commit(repo, {"hi/Tiltfile": "HI = 'two'\n"})
    data = _load(
        tmp_path / "app",
        f"v1alpha1.extension_repo(name='g', url='file://{repo}', ref='first')\n"
        "v1alpha1.extension(name='hi', repo_name='g', repo_path='hi')\n"
        "load('ext://hi', 'HI')\nprint(HI)\n",
    )
    assert data["logs"] == ["one"]


def test_vendored_copies_come_first(tmp_path: Path, origin: Path) -> None:
    write_tree(
        tmp_path / "app",
        {"tilt_modules/greeter/Tiltfile": "VERSION = 'vendored'\ndef greet(n):\n    pass\n"},
    )
    data = _load(tmp_path / "app", APP)
    assert data["logs"] == ["vendored"]
    assert not _cache(tmp_path).exists()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            "v1alpha1.extension_repo(name='r', url='ftp://example.com/x')",
            "v1alpha1.extension_repo: spec.url: Invalid value: 'ftp://example.com/x': "
            "URLs must start with http(s):// or file://",
        ),
        (
            "v1alpha1.extension_repo(name='r', url='file://relative/x')",
            "file:// URLs must be absolute (e.g., file:///home/user/repo)",
        ),
        (
            "v1alpha1.extension_repo(name='r', url='file:///x', git_subpath='sub')",
            "cannot use git_subpath for file:// URL extension repositories",
        ),
        (
            "v1alpha1.extension(name='e')\nv1alpha1.extension(name='e')",
            'v1alpha1.extension: extensions "e" already registered',
        ),
        (
            "load('ext://greeter', 'greet')\n"
            "v1alpha1.extension_repo(name='default', url='https://example.com/x')",
            'v1alpha1.extension_repo: extensionrepos "default" already registered',
        ),
    ],
)
def test_validation(tmp_path: Path, origin: Path, call: str, message: str) -> None:
    write_tree(tmp_path / "app", {"Tiltfile": call + "\n"})
    with pytest.raises(TiltfileLoadError) as info:
        load_tiltfile(str(tmp_path / "app" / "Tiltfile"))
    assert message in info.value.render().splitlines()[0]


def test_missing_extension_in_the_repo_names_the_path(tmp_path: Path, origin: Path) -> None:
    write_tree(tmp_path / "app", {"Tiltfile": "load('ext://nope', 'x')\n"})
    with pytest.raises(TiltfileLoadError) as info:
        load_tiltfile(str(tmp_path / "app" / "Tiltfile"))
    first = info.value.render().splitlines()[0]
    assert "loading extension nope: extension path not found: " in first
    assert str(_cache(tmp_path) / "nope" / "Tiltfile") in first


# --- a repository of extensions written for these tests (fixtures/extrepo), served as the
# default repository, with each extension's own test/Tiltfile (as tilt-extensions has them).

EXTREPO = Path(__file__).parent / "fixtures" / "extrepo"


@pytest.fixture
def extrepo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import shutil

    repo = tmp_path / "extrepo"
    shutil.copytree(EXTREPO, repo)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "extensions")
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", f"url.file://{repo}.insteadOf")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", _extensions.DEFAULT_REPO_URL)
    _extensions._UPDATED.clear()
    return repo


@pytest.mark.parametrize(
    ("extension", "resources"), [("greeting", ["greeted"]), ("action_button", ["svc"])]
)
def test_each_extensions_own_test_tiltfile_loads(
    extrepo: Path, extension: str, resources: list[str]
) -> None:
    result = load_tiltfile(str(extrepo / extension / "test" / "Tiltfile"))
    assert [r.name for r in result.resources] == resources


def test_configmap_extension_test_tiltfile(extrepo: Path) -> None:
    result = load_tiltfile(str(extrepo / "configmap_from_file" / "test" / "Tiltfile"))
    (res,) = result.resources
    # As in Tilt, a lone ConfigMap goes to the "uncategorized" resource.
    assert res.name == "uncategorized"
    assert res.k8s is not None
    assert [o.name for o in res.k8s.objects] == ["settings"]
    # read relative to the test Tiltfile (the running load), not the extension's folder
    assert str(extrepo / "configmap_from_file" / "test" / "settings.ini") in result.files_read


def test_extensions_from_the_default_repo_work_together(tmp_path: Path, extrepo: Path) -> None:
    write_tree(tmp_path / "app", {"input.txt": "", "conf.ini": "x=1\n"})
    data = _load(
        tmp_path / "app",
        "load('ext://say_hello', 'say_hello')\n"
        "load('ext://configmap_from_file', 'configmap_from_file')\n"
        "load('ext://action_button', 'action_button')\n"
        "print(say_hello(['ann', 'bob']))\n"
        "configmap_from_file('conf', 'conf.ini')\n"
        "action_button('again', 'hello-ann', ['true'])\n",
    )
    assert data["logs"] == ["hello"]
    assert [r["name"] for r in data["resources"]] == ["hello-ann", "hello-bob", "uncategorized"]
    by_name = {r["name"]: r for r in data["resources"]}
    assert by_name["hello-ann"]["labels"] == ["greeting"]
    assert by_name["hello-ann"]["local"]["cmd"]["argv"] == ["sh", "-c", "echo hello hello-ann"]
    cmd = next(o for o in data["api_objects"] if o["kind"] == "Cmd")
    assert cmd["spec"]["dir"] == str(tmp_path / "app")  # config.main_dir
    kinds = sorted({(o["kind"], o["name"]) for o in data["api_objects"]})
    assert ("Extension", "greeting") in kinds  # loaded by say_hello, from the same repo
    assert ("ExtensionRepo", "default") in kinds


def test_objects_applied_with_tilt_apply_from_local_join_the_graph(extrepo: Path) -> None:
    from tilt.buttons import actions

    result = load_tiltfile(str(extrepo / "applied_button" / "test" / "Tiltfile"))
    assert [(o.kind, o.name) for o in result.api_objects] == [
        ("Cmd", "btn-rebuild"),
        ("UIButton", "rebuild"),
    ]
    (action,) = actions(result)
    assert (action.resource, action.text) == ("builder", "Rebuild")
    assert [(i.name, i.default) for i in action.inputs] == [("TARGET", "all")]
    (cmd,) = action.commands
    assert cmd.argv == ("sh", "-c", "echo rebuilding $TARGET")
    assert cmd.dir == str(extrepo / "applied_button" / "test")


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("kind: Pod\napiVersion: v1\nmetadata: {name: p}\n", "v1/Pod is not an object"),
        (
            "apiVersion: tilt.dev/v1alpha1\nkind: UIButton\nmetadata: {name: b}\n"
            "spec: {location: {componentType: Resource, componentID: r}}\n",
            "UIButton b: spec.text: Required value: Button text cannot be empty",
        ),
        ("apiVersion: tilt.dev/v1alpha1\nkind: Cmd\nmetadata: {}\n", "metadata.name is required"),
    ],
)
def test_tilt_apply_refuses_what_tilt_would(tmp_path: Path, yaml_text: str, message: str) -> None:
    write_tree(tmp_path, {"objs.yaml": yaml_text})
    write_tree(tmp_path, {"Tiltfile": "local('%s apply -f objs.yaml' % sys.executable)\n"})
    with pytest.raises(TiltfileLoadError) as info:
        load_tiltfile(str(tmp_path / "Tiltfile"))
    assert message in info.value.render()


def test_tilt_apply_outside_a_load_says_so(tmp_path: Path) -> None:
    from tests.conftest import run_tilt

    write_tree(tmp_path, {"objs.yaml": "apiVersion: tilt.dev/v1alpha1\nkind: Cmd\n"})
    proc = run_tilt("apply", "-f", "objs.yaml", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error: tilt apply works only inside a Tiltfile's local()")
