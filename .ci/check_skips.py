"""Print the skip summary of a pytest JUnit XML report; fail on a skip outside .ci/allowed-skips.txt.

Usage: python .ci/check_skips.py REPORT.xml [REPORT.xml ...]
"""
from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path


def allowed_patterns() -> list[re.Pattern]:
    lines = (Path(__file__).with_name("allowed-skips.txt")).read_text().splitlines()
    return [re.compile(ln.strip()) for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def main(reports: list[str]) -> int:
    patterns = allowed_patterns()
    ok, bad = Counter(), []
    for report in reports:
        for case in ET.parse(report).getroot().iter("testcase"):
            for skip in case.findall("skipped"):
                if skip.get("type") == "pytest.xfail":
                    continue
                reason = skip.get("message") or ""
                name = f"{case.get('classname')}::{case.get('name')}"
                if any(p.search(reason) for p in patterns):
                    ok[reason[:120]] += 1
                else:
                    bad.append((name, reason))
    print(f"skip summary: {sum(ok.values())} allowed, {len(bad)} not allowed")
    for reason, n in ok.most_common():
        print(f"  allowed x{n}: {reason}")
    for name, reason in bad:
        print(f"  NOT ALLOWED: {name}: {reason}")
    if bad:
        print("CI fails: a test was skipped for a reason outside .ci/allowed-skips.txt "
              "(a missing package belongs in the [dev] extra)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
