"""Commands that need no model import no model: torch, sentence-transformers, chromadb and llama-index load only in
the commands that search or embed. Checked in a fresh interpreter (this test process has them loaded already);
a behaviour test, not a timing one (benchmarks/cli_startup.py times it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import deflect

# The deflect this test imported, not whichever one the child would find from its own working directory.
SRC = str(Path(deflect.__file__).resolve().parents[1])

HEAVY = ("torch", "sentence_transformers", "chromadb", "llama_index")

# Runs the console-script entry point as `deflect ARGS...` would, then reports which heavy modules were loaded.
PROBE = """
import json, sys
from deflect.cli import main
sys.argv = ["deflect", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print("\\nLOADED=" + json.dumps([m for m in {heavy!r} if m in sys.modules]))
"""


def loaded_after(args: list[str], cwd: Path) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEFLECT_")}
    env["DEFLECT_DATA_DIR"] = str(cwd / "data")
    env["PYTHONPATH"] = os.pathsep.join([SRC, *filter(None, [env.get("PYTHONPATH")])])
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    line = next(x for x in result.stdout.splitlines() if x.startswith("LOADED="))
    return json.loads(line.removeprefix("LOADED="))


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["ask", "--help"],
        ["escalations", "list"],
        ["audit", "show"],
        ["feedback", "list"],
        ["feedback", "sweep"],
        ["stats"],
        ["keys", "list"],
        ["gaps", "--help"],
        ["init", "--help"],
    ],
)
def test_commands_without_a_model_load_none(args: list[str], tmp_path: Path) -> None:
    assert loaded_after(args, tmp_path) == []


def test_the_probe_sees_a_heavy_import_when_there_is_one(tmp_path: Path) -> None:
    """The check above could pass by never seeing anything: `sources show` chunks with llama-index, so it must."""
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "a.md").write_text("# A title\n\nSome text about a thing.\n", encoding="utf-8")
    assert "llama_index" in loaded_after(["sources", "show", "doc:a"], tmp_path)
