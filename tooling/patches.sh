#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Turn series/ into commits on top of the pristine base (branch "series"
# in the tree's repository, built with a private index: the working tree
# is not touched) and write them with `git format-patch --cover-letter`
# to $OUT/patches.
#
# Signed-off-by is the identity of whoever runs this (git config of the
# project repository), as the DCO requires; RNETCORE_SIGNOFF overrides.
set -euo pipefail
. "$(dirname "$0")/env.sh"
lock_cache

git -C "$TREE" rev-parse -q --verify base >/dev/null || die "no tree (run make tree)"
signoff=${RNETCORE_SIGNOFF:-}
if [ -z "$signoff" ]; then
	name=$(git -C "$TOP" config user.name || echo rnetcore)
	email=$(git -C "$TOP" config user.email || echo rnetcore@localhost)
	signoff="$name <$email>"
fi
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
# it: kernel/FILE with the diffs of the later patches reverse-applied.
initial_content() {
	local p=$1 f=$2 later=() seen= q i
	for q in "${ALL[@]}"; do
		if [ "$q" = "$p" ]; then
			seen=1
		elif [ -n "$seen" ] && [ -f "$TOP/series/$q/upstream.diff" ] &&
			grep -qx "+++ b/$f" "$TOP/series/$q/upstream.diff"; then
			later+=("$q")
		fi
	done
	if [ ${#later[@]} = 0 ]; then
		echo "$TOP/kernel/$f"
		return
	fi
	rm -rf "$TMPD/w"
	mkdir -p "$TMPD/w/$(dirname "$f")"
	cp "$TOP/kernel/$f" "$TMPD/w/$f"
	for ((i = ${#later[@]} - 1; i >= 0; i--)); do
		(cd "$TMPD/w" && git apply -R --whitespace=nowarn --include="$f" \
			"$TOP/series/${later[i]}/upstream.diff") ||
			die "series/${later[i]}/upstream.diff does not reverse-apply to kernel/$f"
	done
	echo "$TMPD/w/$f"
}

export GIT_INDEX_FILE=$CACHE/series.index
git -C "$TREE" read-tree base
parent=$(git -C "$TREE" rev-parse base)
n=0
while read -r p; do
	dir=$TOP/series/$p
	[ -f "$dir/message" ] || die "series/$p/message missing"
	if [ -f "$dir/upstream.diff" ]; then
		git -C "$TREE" apply --cached --whitespace=nowarn "$dir/upstream.diff" ||
			die "series/$p/upstream.diff does not apply to the series so far"
	fi
	while read -r f; do
		# A project file enters with its final content minus the hunks
		# later patches add to it.
		src=$(initial_content "$p" "$f")
		blob=$(git -C "$TREE" hash-object -w "$src")
		mode=100644
		[ -x "$TOP/kernel/$f" ] && mode=100755
		git -C "$TREE" update-index --add --cacheinfo "$mode,$blob,$f"
	done < <("$TOP/tooling/series.sh" files "$p")
	tree=$(git -C "$TREE" write-tree)
	msg=$(cat "$dir/message"; printf '\nSigned-off-by: %s\n' "$signoff")
	parent=$(git -C "$TREE" commit-tree "$tree" -p "$parent" -m "$msg")
	n=$((n + 1))
done < <("$TOP/tooling/series.sh" list)
unset GIT_INDEX_FILE
git -C "$TREE" update-ref refs/heads/series "$parent"

# The series must end exactly at the assembled tree.
for f in $(cat "$TREE/.git/rnetcore-managed"); do
	if ! git -C "$TREE" cat-file -e "series:$f" 2>/dev/null; then
		die "$f is in the tree but not in the series"
	fi
	[ "$(git -C "$TREE" rev-parse "series:$f")" = "$(git -C "$TREE" hash-object "$f")" ] ||
		die "$f differs between the series and the assembled tree (run make tree)"
done

git -C "$TREE" config branch.series.description "$(cat "$TOP/series/cover-letter")"
rm -rf "$OUT/patches"
git -C "$TREE" format-patch -q --cover-letter --cover-from-description=subject \
	--subject-prefix="${RNETCORE_SUBJECT_PREFIX:-PATCH net-next}" \
	--base="$(git -C "$TREE" rev-parse base)" -o "$OUT/patches" base..series
log "$n patches in $OUT/patches (branch series in $TREE)"
