#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn the drivers/net selftests' output from the lab into one KTAP suite.

Reads LABOUT/ksft/*.txt (one file per test program, its KTAP and exit
status, written by lab/guest.sh) and the driver's expectations file, and
writes a KTAP suite "selftests_<driver>" with one case per selftest case.

The expectations file lists every case that does not pass today, one a
line: "<case> <fail|skip|xfail> <reason>" (the case as the selftest names
it, e.g. stats.check_pause). A case
  - that passes and is not listed: ok;
  - whose outcome is the listed one: ok, reported as SKIP with the reason
    (an expected failure or skip is not counted as a pass);
  - that fails, skips or xfails without an entry, or whose outcome differs
    from its entry (a listed failure that now passes included, so the list
    never hides progress): not ok;
and an entry for a case that did not report at all is not ok too.
"""

import argparse
import os
import re
import sys

RESULT = re.compile(r"^(ok|not ok) \d+ (\S+)(?: # (\w+)\s*(.*))?$")


def read_expectations(path):
    exp = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split(None, 2)
            if len(parts) < 3 or parts[1] not in ("fail", "skip", "xfail"):
                sys.exit(f"{path}:{n}: want '<case> <fail|skip|xfail> <reason>'")
            exp[parts[0]] = (parts[1], parts[2])
    return exp


def read_results(ksft_dir):
    """Yields (case, outcome, detail, file) for every case of every program."""
    for name in sorted(os.listdir(ksft_dir)):
        if not name.endswith(".txt"):
            continue
        path = os.path.join(ksft_dir, name)
        prog = name[:-len(".txt")]
        cases = 0
        status = None
        with open(path, errors="replace") as f:
            for line in f:
                line = line.rstrip("\n")
                m = RESULT.match(line)
                if m:
                    cases += 1
                    ok, case, directive, rest = m.groups()
                    directive = (directive or "").upper()
                    if directive == "SKIP":
                        outcome = "skip"
                    elif directive == "XFAIL":
                        outcome = "xfail"
                    else:
                        outcome = "pass" if ok == "ok" else "fail"
                    yield case, outcome, rest or "", name
                elif line.startswith("# exit: "):
                    status = line[len("# exit: "):]
        if cases == 0:
            # The program died before reporting a case (import error, crash,
            # timeout): one failing case in its name.
            yield prog, "fail", f"no results, exit {status}", name


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("ksft_dir")
    ap.add_argument("expectations")
    ap.add_argument("suite")
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args()

    exp = read_expectations(args.expectations)
    lines = []
    seen = set()
    failed = 0
    if not os.path.isdir(args.ksft_dir):
        # The lab stopped before its selftests step (a check they depend
        # on failed, or the guest died): every expected case is missing.
        print(f"  no selftest results: {args.ksft_dir} does not exist (see the lab checks above)")
        results = []
    else:
        results = read_results(args.ksft_dir)
    for case, outcome, detail, fname in results:
        seen.add(case)
        want = exp.get(case, ("pass", None))
        n = len(lines) + 1
        if outcome == want[0]:
            if outcome == "pass":
                lines.append((f"ok {n} {case}", None))
            else:
                lines.append((f"ok {n} {case} # SKIP expected {outcome}: {want[1]}", None))
        else:
            failed += 1
            if want[0] == "pass":
                why = f"{outcome} ({detail.strip() or 'see ' + fname}), and no entry in {os.path.basename(args.expectations)}"
            else:
                why = f"listed as {want[0]} ({want[1]}) but the outcome is {outcome}"
                if outcome == "pass":
                    why += ": it passes now, remove the entry"
            lines.append((f"not ok {n} {case}", f"{case}: {why}"))
    for case in exp:
        if case not in seen:
            failed += 1
            n = len(lines) + 1
            lines.append((f"not ok {n} {case}",
                          f"{case}: listed in {os.path.basename(args.expectations)} but did not report"))

    with open(args.output, "w") as out:
        print("KTAP version 1", file=out)
        print("1..1", file=out)
        print("    KTAP version 1", file=out)
        print(f"    # Subtest: {args.suite}", file=out)
        print(f"    1..{len(lines)}", file=out)
        for line, diag in lines:
            print(f"    {line}", file=out)
            if diag:
                print(f"    # {diag}", file=out)
        print(f"{'not ok' if failed or not lines else 'ok'} 1 {args.suite}", file=out)
    for line, diag in lines:
        if diag:
            print(f"  {diag}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
