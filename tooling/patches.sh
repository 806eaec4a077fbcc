#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Turn series/ into commits on top of the pristine base (branch "series"
# in the tree's repository, series-commits.sh) and write them with
# `git format-patch --cover-letter` to $OUT/patches.
set -euo pipefail
. "$(dirname "$0")/env.sh"
lock_cache

"$TOP/tooling/series-commits.sh" refs/heads/series >/dev/null
n=$(git -C "$TREE" rev-list --count base..series)

# The series must end exactly at the assembled tree.
for f in $(cat "$TREE/.git/rnetcore-managed"); do
	if ! git -C "$TREE" cat-file -e "series:$f" 2>/dev/null; then
		die "$f is in the tree but not in the series"
	fi
	[ "$(git -C "$TREE" rev-parse "series:$f")" = "$(git -C "$TREE" hash-object "$f")" ] ||
		die "$f differs between the series and the assembled tree (run make tree)"
done

git -C "$TREE" config branch.series.description "$(cat "$SRC/series/cover-letter")"
rm -rf "$OUT/patches"
git -C "$TREE" format-patch -q --cover-letter --cover-from-description=subject \
	--subject-prefix="${RNETCORE_SUBJECT_PREFIX:-PATCH net-next}" \
	--base="$(git -C "$TREE" rev-parse base)" -o "$OUT/patches" base..series
log "$n patches in $OUT/patches (branch series in $TREE)"
