"""The engine's house rules, as imports: runtimes plug in, the engine does not reach out.

- Nothing in `tilt.engine` imports `tilt.docker` or `tilt.ui` when imported
  (transitively): concrete runtimes are loaded by whoever builds the engine.
- The reducer's floor (`state`, `runtime`, `events`, `scheduler`) imports no
  runtime package at all, not even inside a function.
- The engine loop imports no concrete runner at module level.
"""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import tilt.engine

ENGINE_DIR = Path(tilt.engine.__file__).parent
ENGINE_MODULES = [
    "tilt.engine",
    *sorted(f"tilt.engine.{m.name}" for m in pkgutil.iter_modules([str(ENGINE_DIR)])),
]

RUNTIME_PACKAGES = (
    "tilt.docker",
    "tilt.k8s",
    "tilt.process",
    "tilt.probe",
    "tilt.engine.local",
    "tilt.engine.compose",
    "tilt.engine.k8s",
)
REDUCER_FLOOR = ("state", "runtime", "events", "scheduler")


def _loaded_by(modules: list[str]) -> dict[str, list[str]]:
    """Per module (each in a fresh interpreter), the tilt modules importing it loads."""
    code = (
        "import importlib, json, sys\n"
        "m = sys.argv[1]\n"
        "importlib.import_module(m)\n"
        "print(json.dumps(sorted(k for k in sys.modules if k.startswith('tilt'))))\n"
    )
    out: dict[str, list[str]] = {}
    for m in modules:
        r = subprocess.run(
            [sys.executable, "-c", code, m], capture_output=True, text=True, check=True
        )
        out[m] = json.loads(r.stdout)
    return out


def _under(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def _imports(path: Path, *, module_level_only: bool) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    nodes = tree.body if module_level_only else list(ast.walk(tree))
    found: list[tuple[int, str]] = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found += [(node.lineno, node.module)]
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return found


def test_engine_imports_no_docker_and_no_ui_at_import_time() -> None:
    loaded = _loaded_by(ENGINE_MODULES)
    bad = {
        m: [x for x in mods if _under(x, ("tilt.docker", "tilt.ui"))] for m, mods in loaded.items()
    }
    assert {m: xs for m, xs in bad.items() if xs} == {}


def test_the_reducer_imports_no_runtime_at_import_time() -> None:
    loaded = _loaded_by([f"tilt.engine.{m}" for m in REDUCER_FLOOR])
    bad = {m: [x for x in mods if _under(x, RUNTIME_PACKAGES)] for m, mods in loaded.items()}
    assert {m: xs for m, xs in bad.items() if xs} == {}


def test_the_reducer_imports_no_runtime_anywhere() -> None:
    bad = [
        f"{m}.py:{line}: {name}"
        for m in REDUCER_FLOOR
        for line, name in _imports(ENGINE_DIR / f"{m}.py", module_level_only=False)
        if _under(name, (*RUNTIME_PACKAGES, "tilt.ui"))
    ]
    assert bad == []


def test_the_engine_loop_imports_no_concrete_runner_at_module_level() -> None:
    for m in ("engine", "runner", "__init__"):
        bad = [
            f"{m}.py:{line}: {name}"
            for line, name in _imports(ENGINE_DIR / f"{m}.py", module_level_only=True)
            if _under(name, (*RUNTIME_PACKAGES, "tilt.ui"))
        ]
        assert bad == []
    # And nowhere in the loop a Docker or UI import, even a lazy one.
    bad = [
        f"engine.py:{line}: {name}"
        for line, name in _imports(ENGINE_DIR / "engine.py", module_level_only=False)
        if _under(name, ("tilt.docker", "tilt.ui", "tilt.engine.compose"))
    ]
    assert bad == []


def test_the_rules_can_fail() -> None:
    """The checks see a violation: `tilt.engine.compose` does reach Docker lazily."""
    lazy = _imports(ENGINE_DIR / "compose.py", module_level_only=False)
    assert any(_under(name, ("tilt.docker",)) for _, name in lazy)
    assert _under("tilt.docker.events", RUNTIME_PACKAGES)
