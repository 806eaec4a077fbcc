#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Code lines of e1000_rust beside the C e1000's, for `make bench`.

Counts non-blank lines outside comments (`//` lines, doc comments and
`/* */` blocks) in drivers/net/ethernet/intel/e1000_rust.rs and in the C
driver's e1000_main.c, e1000_ethtool.c and e1000_param.c of the tree.

    loc.py TREE
"""

import os
import re
import sys

C_FILES = ["e1000_main.c", "e1000_ethtool.c", "e1000_param.c"]


def code_lines(path):
    """Non-blank lines that are not only comment, and all lines."""
    with open(path) as f:
        text = f.read()
    total = text.count("\n")
    # Block comments keep their newlines, so that lines stay lines.
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    return sum(1 for line in text.split("\n") if line.strip()), total


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: loc.py TREE")
    tree = sys.argv[1]
    rust, rust_total = code_lines(os.path.join(tree, "drivers/net/ethernet/intel/e1000_rust.rs"))
    c = c_total = 0
    for name in C_FILES:
        n, t = code_lines(os.path.join(tree, "drivers/net/ethernet/intel/e1000", name))
        c += n
        c_total += t
    print(f"code lines (non-blank, not comment): e1000_rust {rust} ({rust_total} in all), "
          f"C e1000 {c} ({c_total} in all: {', '.join(C_FILES)}); Rust/C {rust / c:.2f}")


if __name__ == "__main__":
    main()
