"""Run every benchmark in turn (each writes its table to bench/results/) and print the tables.

Usage: python bench/run_all.py [--quick]
--quick shortens the load and soak runs and skips the 1M-vector part, for a first look.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def main() -> None:
    """Run the benchmarks one after another: they would disturb each other's timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    runs = [
        ["bench_core.py"],
        ["bench_indexing.py"],
        ["bench_load.py", "--seconds", "10" if args.quick else "30"],
        ["bench_scale.py", *(["--copies", "4", "--million", "0"] if args.quick else [])],
        ["soak.py", "--seconds", "60" if args.quick else "180"],
    ]
    failed = []
    for script, *flags in runs:
        print(f"== {script} {' '.join(flags)}", flush=True)
        done = subprocess.run([sys.executable, str(ROOT / "bench" / script), *flags], cwd=ROOT)
        if done.returncode:
            failed.append(script)
    for name in ("core", "indexing", "load", "scale", "soak"):
        path = RESULTS / f"{name}.md"
        if path.exists():
            print(path.read_text())
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
