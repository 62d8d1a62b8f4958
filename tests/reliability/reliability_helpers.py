"""Helpers of the reliability catalogue: snapshots that prove nothing was touched, CLI runs."""
from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: a folder nobody can write, not even root (sysfs refuses new files)
READ_ONLY_DIR = Path("/sys/kernel")


def snapshot(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``folder`` (empty dict if it is absent)."""
    folder = Path(folder)
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def read_only_dir() -> Path:
    """A folder where creating a file fails (skips where no such folder exists)."""
    import tempfile

    try:
        fd, tmp = tempfile.mkstemp(dir=READ_ONLY_DIR)
    except OSError:
        return READ_ONLY_DIR
    os.close(fd)
    os.unlink(tmp)
    pytest.skip(f"{READ_ONLY_DIR} is writable here: no read-only folder to test with")


def cli_env() -> dict:
    """Environment for a neurosig subprocess: this tree first on the path, no display."""
    return dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
                MPLBACKEND="Agg")


def cli(*args: str, cwd: Path, timeout: float = 300):
    """Run ``neurosig ARGS`` in a subprocess (this tree first on the path); return (rc, stdout, stderr)."""
    import subprocess

    proc = subprocess.run([sys.executable, "-m", "neurosig.cli.main", *args], cwd=cwd, env=cli_env(),
                          capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr
