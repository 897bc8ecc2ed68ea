"""Adds up the JUnit reports of every test stage and prints one honest closing line."""

import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def count(report: Path) -> tuple[int, int, int]:
    passed = failed = skipped = 0
    for case in ET.parse(report).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif case.find("skipped") is not None:
            skipped += 1
        else:
            passed += 1
    return passed, failed, skipped


def main() -> int:
    reports = sorted(Path(sys.argv[1]).glob("*.xml"))
    totals = [0, 0, 0]
    for report in reports:
        passed, failed, skipped = count(report)
        print(f"{report.stem}: {passed} passed, {failed} failed, {skipped} skipped")
        totals = [totals[0] + passed, totals[1] + failed, totals[2] + skipped]
    if not reports:
        print("no test reports were written", file=sys.stderr)
        return 1
    print(f"all: {totals[0]} passed, {totals[1]} failed, {totals[2]} skipped")
    return 1 if totals[1] else 0


if __name__ == "__main__":
    sys.exit(main())
