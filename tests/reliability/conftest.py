"""Fixtures of the reliability catalogue (helpers live in reliability_helpers.py)."""
from __future__ import annotations

from reliability_helpers import read_only_dir  # noqa: F401 (fixture)
