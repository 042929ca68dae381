"""Runs the approver's JavaScript unit tests (``node --test tests/js``) as part of the Python suite."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (Node 20 runs tests/js)")
def test_js_modules__node_test_runner__all_pass():
    done = subprocess.run(
        ["node", "--test", "tests/js/"], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "# fail 0" in done.stdout
