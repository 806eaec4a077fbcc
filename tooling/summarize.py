#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Sum up the JSON results of `kunit.py parse` (KUnit suites and lab checks).

Prints one line per suite, then as the last line "N passed, N failed,
N skipped" over all test cases. Exits non-zero if any case failed, if a
result file is missing or empty, or if an expected suite did not report.
"""

import argparse
import json
import sys


def cases(group, path=()):
    """Yields (suite path, case name, status) for every leaf test case."""
    name = group.get("name", "?")
    here = path + (name,)
    for case in group.get("test_cases", []):
        yield here, case["name"], case["status"]
    for sub in group.get("sub_groups", []):
        yield from cases(sub, here)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("results", nargs="+", help="kunit.py --json files")
    ap.add_argument("--expect", action="append", default=[],
                    help="a suite that must have reported (repeatable)")
    ap.add_argument("--problem", action="append", default=[],
                    help="a failure found outside the results (repeatable)")
    args = ap.parse_args()

    total = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    suites = {}
    problems = list(args.problem)
    for path in args.results:
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, ValueError) as e:
            problems.append(f"{path}: no results ({e})")
            continue
        found = False
        for where, case, status in cases(data):
            found = True
            # Suites are the groups right below the top-level group; a
            # suite that crashed before its cases shows as a failed case.
            suite = where[1] if len(where) > 1 else case
            status = status if status in total else "FAIL"
            counts = suites.setdefault(suite, {"PASS": 0, "FAIL": 0, "SKIP": 0})
            counts[status] += 1
            total[status] += 1
            if status == "FAIL":
                print(f"FAILED: {'.'.join(where[1:] + (case,))}")
        if not found:
            problems.append(f"{path}: no test cases")

    for suite, c in suites.items():
        print(f"  {suite:32} {c['PASS']:4} passed {c['FAIL']:3} failed {c['SKIP']:3} skipped")
    for suite in args.expect:
        if suite not in suites:
            problems.append(f"expected suite {suite} did not report")
    for p in problems:
        print(f"ERROR: {p}")
    failed = total["FAIL"] + len(problems)
    print(f"{total['PASS']} passed, {failed} failed, {total['SKIP']} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
