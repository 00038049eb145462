"""A create_data run killed at any moment leaves either no version folder or a complete one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bricksml.data import sample
from bricksml.data.store import file_sha256

SCRIPT = """
import sys
from bricksml.jobs.create_data import create_data
from bricksml.params import CreateDataParams
create_data(CreateDataParams.parse({"data_name": "big", "data_version": "v1", "label_col": "Sentiment",
    "text_col": "Sentence", "raw_path": sys.argv[1]}))
"""


def _complete(version: Path) -> bool:
    manifest = json.loads((version / "manifest.json").read_text())
    return all(file_sha256(version / s["file"]) == s["sha256"] for s in manifest["splits"].values())


@pytest.mark.slow
def test_killed_runs_leave_nothing_half_written(tmp_path: Path) -> None:
    raw = tmp_path / "raw.csv"
    sample.sentiment(120_000, 3).to_csv(raw, index=False)
    env = {**os.environ, "BRICKSML_LOCAL_ROOT": str(tmp_path / "root")}
    version = tmp_path / "root" / "Volumes/main/bricksml/data/big/v1"
    for delay in (0.3, 0.8, 1.5, 2.5):
        proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(raw)], env=env)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if version.exists():
            assert _complete(version), f"killed after {delay}s: version folder is incomplete"
            break
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(raw)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert _complete(version)
    leftovers = [p.name for p in version.parent.iterdir() if p.name.startswith(".tmp-")]
    assert leftovers == [], f"temporary folders of killed runs remain: {leftovers}"
