"""Run every tests/bench/bench_*.py (or those named on the command line)."""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
import sys
import time

import tests.bench
from tests.bench.harness import ROOT, Harness


async def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    wanted = [a for a in argv if not a.startswith("--")]
    harness = Harness(quick=quick)
    started = time.perf_counter()
    names = sorted(
        i.name for i in pkgutil.iter_modules(tests.bench.__path__) if i.name.startswith("bench_")
    )
    for name in names:
        if wanted and not any(w in name for w in wanted):
            continue
        print(f"== {name}", flush=True)
        module = importlib.import_module(f"tests.bench.{name}")
        t0 = time.perf_counter()
        await module.run(harness)
        print(f"   ({name}: {time.perf_counter() - t0:.0f} s)", flush=True)
    print()
    print(harness.table())
    print(f"\n(total {time.perf_counter() - started:.0f} s)")
    if not wanted and not quick:
        harness.write_json(ROOT / "bench-results.json")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
