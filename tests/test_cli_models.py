"""`easel models`: a readable table, the raw listing with --json, and no traceback when the reader leaves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def easel_models(home: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "EASEL_HOME": str(home)}
    env.pop("EASEL_ENGINES", None)
    return subprocess.Popen([sys.executable, "-m", "easel", "models", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_table_and_json(tmp_path: Path) -> None:
    table, _ = easel_models(tmp_path).communicate(timeout=60)
    assert "Models" in table and "super_resolution" in table and "Engine tasks" in table
    raw, _ = easel_models(tmp_path, "--json").communicate(timeout=60)
    listing = json.loads(raw)
    assert {"data", "engines"} <= set(listing) and listing["data"][0]["model"] == "wanx2.1-imageedit"


def test_closed_pipe_is_quiet(tmp_path: Path) -> None:
    """As `easel models | head -1`, made deterministic: the reader is gone before the first write (with
    head, whether a write fails depends on how much fits in the pipe buffer before head exits)."""
    for args in ((), ("--json",)):
        process = easel_models(tmp_path, *args)
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()
        process.wait(60)
        stderr = process.stderr.read()
        assert process.returncode == 1, stderr  # rich's convention for a reader that left
        assert "Traceback" not in stderr and "Error" not in stderr, stderr
