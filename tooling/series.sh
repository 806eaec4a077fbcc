#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Read the patch series definition in series/:
#   series/series            the patches, in order (one directory name a line)
#   series/<patch>/message   commit message: subject, blank line, body
#   series/<patch>/files     project files it adds (kernel-tree paths)
#   series/<patch>/upstream.diff  its changes to upstream files (optional)
#
#   series.sh list           the patches, in order
#   series.sh files PATCH    the files PATCH adds
set -euo pipefail
SRC=${RNETCORE_SRC:-$(cd "$(dirname "$0")/.." && pwd)}

strip() { sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$@"; }

case "${1:-}" in
list)
	strip "$SRC/series/series"
	;;
files)
	[ -f "$SRC/series/$2/files" ] && strip "$SRC/series/$2/files"
	true
	;;
*)
	echo "usage: $0 list | files PATCH" >&2
	exit 2
	;;
esac
