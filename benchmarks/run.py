"""Run the benchmarks and print their figures (record them in docs/performance.md).

Usage: ``uv run nox -s bench`` or ``python benchmarks/run.py [NAME...]``.
"""

from __future__ import annotations

import importlib
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

BENCHES = [p.stem for p in sorted(HERE.glob("bench_*.py"))]


def main(argv: list[str]) -> int:
    chosen = [b for b in BENCHES if not argv or any(a in b for a in argv)]
    print(
        f"# {time.strftime('%Y-%m-%d')} {platform.node()} {platform.machine()} "
        f"{os.cpu_count()} cores, Python {platform.python_version()}"
    )
    for name in chosen:
        mod = importlib.import_module(name)
        print(f"\n## {name}")
        mod.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
