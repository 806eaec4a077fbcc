#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Record edits made to upstream files in the assembled tree as PATCH's
# upstream.diff:
#
#   newdiff.sh PATCH FILE...
#
# The diff goes from base + the diffs of the patches before PATCH to the
# tree's current content of each FILE minus the diffs of the patches after
# PATCH (reverse-applied, so they must still apply). Edit the files in the
# tree, run this, then `make tree` (which then writes nothing).
set -euo pipefail
. "$(dirname "$0")/env.sh"

patch=$1
shift
[ -d "$TOP/series/$patch" ] || die "no series/$patch"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/a" "$tmp/b"
project=()
for f in "$@"; do
	mkdir -p "$tmp/a/$(dirname "$f")" "$tmp/b/$(dirname "$f")"
	if git -C "$TREE" cat-file -e "base:$f" 2>/dev/null; then
		git -C "$TREE" show "base:$f" >"$tmp/a/$f"
		cp "$TREE/$f" "$tmp/b/$f"
	else
		# A project file (added by an earlier patch): the edited final
		# content is in kernel/, the previous final one still in the tree
		# (run this before `make tree`); "a" is derived from it below.
		[ -f "$TOP/kernel/$f" ] || die "$f is neither a base file nor in kernel/"
		cp "$TOP/kernel/$f" "$tmp/b/$f"
		mkdir -p "$tmp/old/$(dirname "$f")"
		cp "$TREE/$f" "$tmp/old/$f"
		project+=("$f")
	fi
done
inc=()
binc=()
for f in "$@"; do
	inc+=(--include="$f")
	case " ${project[*]} " in *" $f "*) ;; *) binc+=(--include="$f") ;; esac
done
later=()
seen=
while read -r p; do
	if [ "$p" = "$patch" ]; then
		seen=1
		continue
	fi
	d=$TOP/series/$p/upstream.diff
	[ -s "$d" ] || continue
	if [ -n "$seen" ]; then
		later=("$d" "${later[@]}")
		continue
	fi
	[ ${#binc[@]} = 0 ] ||
		(cd "$tmp/a" && git apply --whitespace=nowarn "${binc[@]}" "$d") ||
		die "series/$p/upstream.diff does not apply"
done < <("$TOP/tooling/series.sh" list)
for d in "${later[@]}"; do
	(cd "$tmp/b" && git apply -R --whitespace=nowarn "${inc[@]}" "$d") ||
		die "${d#$TOP/} does not reverse-apply to the tree"
	for f in "${project[@]}"; do
		(cd "$tmp/old" && git apply -R --whitespace=nowarn --include="$f" "$d") ||
			die "${d#$TOP/} does not reverse-apply to the tree's $f"
	done
done
# Project files: "a" is the previous final content without the later
# patches' hunks (above) and without PATCH's own previous hunks.
prev=$TOP/series/$patch/upstream.diff
for f in "${project[@]}"; do
	cp "$tmp/old/$f" "$tmp/a/$f"
	if [ -f "$prev" ] && grep -qx "+++ b/$f" "$prev"; then
		(cd "$tmp/a" && git apply -R --whitespace=nowarn --include="$f" "$prev") ||
			die "series/$patch/upstream.diff no longer reverse-applies to $f"
	fi
done
(cd "$tmp" && git diff --no-index a b || true) |
	sed -e 's|^diff --git a/a/\(.*\) b/b/.*|diff --git a/\1 b/\1|' \
		-e 's|^--- a/a/|--- a/|' -e 's|^+++ b/b/|+++ b/|' \
		>"$TOP/series/$patch/upstream.diff"
log "series/$patch/upstream.diff: $(grep -c '^+++ ' "$TOP/series/$patch/upstream.diff") files"
