"""Print what the minimum-versions environment holds; fail when a pinned dependency differs.

Run by .ci/min_versions.sh with the interpreter of that environment, from the repository root.
"""
from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.version import Version

PINS = Path(__file__).with_name("min-versions.txt")


def main() -> int:
    pins = {}
    for line in PINS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, pin = line.partition("==")
            pins[name.strip()] = pin.strip()
    seen, wrong = [], []
    for name, pin in pins.items():
        try:
            got = version(name)
        except PackageNotFoundError:  # a dependency of other Pythons only (tomli before 3.11)
            seen.append(f"{name} (not needed here)")
            continue
        seen.append(f"{name}=={got}")
        if Version(Version(got).public) != Version(pin):  # torch's local tag: 2.13.0+cpu
            wrong.append(f"{name} {got} (pinned {pin})")
    print("installed: " + ", ".join(seen))
    if wrong:
        print("not installed at the pinned versions: " + ", ".join(wrong), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
