"""CLI start-up benchmark: time of `newsletter --version`, `--help` and a group's `--help`.

Each command runs in a fresh interpreter (as a person runs it), several times; the machine is
shared, so the median and the range are printed, not one run, and beside the wall time the
child's CPU time (user + system), which waiting for a shared core does not inflate. The
interpreter is the one that runs this script, importing the code of this checkout (or of
``--checkout DIR``, to compare with another worktree):

    .venv/bin/python bench/cli_startup.py [--runs 15] [--checkout DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = (
    ("--version",),
    ("--help",),
    ("briefs", "--help"),
    ("subscribers", "list", "--help"),
)
# What the console script does: import the entry point, call it.
ENTRY = "import sys; from newsletter.cli.app import main; sys.argv[0] = 'newsletter'; main()"


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_times(args: tuple[str, ...], runs: int, checkout: Path) -> list[tuple[float, float]]:
    """(wall, CPU) seconds per run of ``newsletter ARGS`` in a new process."""
    env = {**os.environ, "PYTHONPATH": str(checkout), "COLUMNS": "100"}
    times = []
    for _ in range(runs):
        start, cpu = time.perf_counter(), child_cpu()
        subprocess.run(
            [sys.executable, "-c", ENTRY, *args],
            env=env,
            cwd=checkout,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        times.append((time.perf_counter() - start, child_cpu() - cpu))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--checkout", type=Path, default=ROOT, help="The code to import.")
    options = parser.parse_args()
    runs, checkout = options.runs, options.checkout.resolve()
    run_times(("--version",), 2, checkout)  # warm the file cache and the .pyc files
    print(f"code: {checkout}, {runs} runs of each command; wall time, then CPU time")
    print(f"{'command':36} {'median':>8} {'min':>8} {'max':>8}   {'CPU med':>8} {'min':>8}")
    for args in COMMANDS:
        times = run_times(args, runs, checkout)
        wall, cpu = [t for t, _ in times], [c for _, c in times]
        print(
            f"{'newsletter ' + ' '.join(args):36} {statistics.median(wall):7.3f}s "
            f"{min(wall):7.3f}s {max(wall):7.3f}s   {statistics.median(cpu):7.3f}s "
            f"{min(cpu):7.3f}s"
        )


if __name__ == "__main__":
    main()
