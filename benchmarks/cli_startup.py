"""Wall time of model-free CLI commands, each in a fresh interpreter (the cold start a user sees).

    .venv/bin/python benchmarks/cli_startup.py [--runs 5]

Runs `deflect --help`, `init --help`, `escalations list`, `audit show`, `feedback list` and `stats` in a
temporary project (`deflect init`), `--runs` times each, and prints the median and the slowest. A benchmark, not a
test: nothing here asserts a time (tests/test_cli_imports.py checks the behaviour behind it: no torch,
sentence-transformers, Chroma or LlamaIndex is imported). Target: under 1 s on a busy 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import deflect

# The deflect this script imported, whatever the children's working directory.
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(
        [str(Path(deflect.__file__).resolve().parents[1]), *filter(None, [os.environ.get("PYTHONPATH")])]
    ),
}
COMMANDS = (["--help"], ["init", "--help"], ["escalations", "list"], ["audit", "show"], ["feedback", "list"], ["stats"])


def deflect(args: list[str], cwd: Path) -> float:
    """Seconds one `deflect ARGS` takes, interpreter start included."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "from deflect.cli import main; main()", *args],
        cwd=cwd,
        env=ENV,
        check=False,
        capture_output=True,
    )
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cli-bench-"))
    try:
        subprocess.run(
            [sys.executable, "-c", "from deflect.cli import main; main()", "init", "p"], cwd=work, env=ENV, check=True
        )
        project = work / "p"
        deflect(["stats"], project)  # creates the database once, so every timed run reads an existing one
        results = {}
        for command in COMMANDS:
            times = [deflect(command, project) for _ in range(args.runs)]
            results[" ".join(command)] = {"median_s": round(statistics.median(times), 3), "max_s": round(max(times), 3)}
        print(json.dumps(results, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
