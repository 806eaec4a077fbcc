#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the series as commits on top of the pristine base in the tree's
# repository, with a private index (the tree's working files are not
# touched), and point REF at the last one.
#
#   series-commits.sh [REF]     REF defaults to refs/heads/series
#
# The series is read from $SRC (env.sh): series/ and the project files at
# their kernel-tree paths. Each project file enters with its final content
# minus the hunks later patches add to it; each patch's upstream.diff is
# applied on top. Signed-off-by is the identity of whoever runs this (git
# config of the project repository), as the DCO requires; RNETCORE_SIGNOFF
# overrides.
set -euo pipefail
. "$(dirname "$0")/env.sh"
lock_cache

ref=${1:-refs/heads/series}
git -C "$TREE" rev-parse -q --verify base >/dev/null || die "no tree (run make tree)"
signoff=$(signoff_identity)
# A fixed date makes stable commit ids: an unchanged patch on an unchanged
# parent keeps its id, so check-bisect skips what it already built (mail
# tools stamp the real date when the series is sent).
date=${RNETCORE_PATCH_DATE:-2026-01-01T00:00:00Z}
export GIT_AUTHOR_NAME=${signoff% <*} GIT_AUTHOR_EMAIL=${signoff##*<}
GIT_AUTHOR_EMAIL=${GIT_AUTHOR_EMAIL%>}
export GIT_COMMITTER_NAME=$GIT_AUTHOR_NAME GIT_COMMITTER_EMAIL=$GIT_AUTHOR_EMAIL
export GIT_AUTHOR_DATE=$date GIT_COMMITTER_DATE=$date

mapfile -t ALL < <("$TOP/tooling/series.sh" list)
TMPD=$(mktemp -d)
trap 'rm -rf "$TMPD"' EXIT

# initial_content PATCH FILE: prints the path of FILE's content as PATCH adds
# it: the final FILE with the diffs of the later patches reverse-applied.
initial_content() {
	local p=$1 f=$2 later=() seen= q i
	for q in "${ALL[@]}"; do
		if [ "$q" = "$p" ]; then
			seen=1
		elif [ -n "$seen" ] && [ -f "$SRC/series/$q/upstream.diff" ] &&
			grep -qx "+++ b/$f" "$SRC/series/$q/upstream.diff"; then
			later+=("$q")
		fi
	done
	if [ ${#later[@]} = 0 ]; then
		echo "$SRC/$f"
		return
	fi
	rm -rf "$TMPD/w"
	mkdir -p "$TMPD/w/$(dirname "$f")"
	cp "$SRC/$f" "$TMPD/w/$f"
	for ((i = ${#later[@]} - 1; i >= 0; i--)); do
		(cd "$TMPD/w" && git apply -R --whitespace=nowarn --include="$f" \
			"$SRC/series/${later[i]}/upstream.diff") ||
			die "series/${later[i]}/upstream.diff does not reverse-apply to $f"
	done
	echo "$TMPD/w/$f"
}

export GIT_INDEX_FILE=$TMPD/index
git -C "$TREE" read-tree base
parent=$(git -C "$TREE" rev-parse base)
for p in "${ALL[@]}"; do
	dir=$SRC/series/$p
	[ -f "$dir/message" ] || die "series/$p/message missing"
	if [ -f "$dir/upstream.diff" ]; then
		git -C "$TREE" apply --cached --whitespace=nowarn "$dir/upstream.diff" ||
			die "series/$p/upstream.diff does not apply to the series so far"
	fi
	while read -r f; do
		src=$(initial_content "$p" "$f")
		blob=$(git -C "$TREE" hash-object -w "$src")
		mode=100644
		[ -x "$SRC/$f" ] && mode=100755
		git -C "$TREE" update-index --add --cacheinfo "$mode,$blob,$f"
	done < <("$TOP/tooling/series.sh" files "$p")
	tree=$(git -C "$TREE" write-tree)
	msg=$(git -C "$TREE" interpret-trailers --if-exists addIfDifferent \
		--trailer "Signed-off-by: $signoff" <"$dir/message")
	parent=$(git -C "$TREE" commit-tree "$tree" -p "$parent" -m "$msg")
done
git -C "$TREE" update-ref "$ref" "$parent"
echo "$parent"
