#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make series-save`: write the commits of the edit worktree (see
# series-edit.sh) back into the repository: each commit becomes a patch
# directory under series/ (message, the files it adds, its diff to files
# that existed before it), series/series lists them in order, and every
# project file takes its content at the last commit, at its kernel-tree
# path. Nothing is written unless building the series back from that
# (series-commits.sh) gives every commit's tree and message exactly.
#
# Refused: uncommitted changes, merges, deleted or renamed-away files, a
# history that does not start at base.
set -euo pipefail
. "$(dirname "$0")/env.sh"
lock_cache

EDIT=${RNETCORE_EDIT:-$OUT/series}
[ -e "$EDIT/.git" ] || die "no $EDIT (run make series-edit)"
[ -z "$(git -C "$EDIT" status --porcelain --untracked-files=normal)" ] ||
	die "uncommitted changes in $EDIT: commit (or stash) them first"
# Debian's base tree ignores every top-level entry (its .gitignore: "/*"),
# so a new file stays invisible to git status until added with -f.
ignored=$(git -C "$EDIT" status --porcelain --ignored --untracked-files=all | sed -n 's/^!! //p')
[ -z "$ignored" ] || die "files in $EDIT that the base's .gitignore hides; add them with git add -f:
$ignored"
head=$(git -C "$EDIT" rev-parse HEAD)
G=(git -C "$TREE")
"${G[@]}" merge-base --is-ancestor base "$head" || die "$EDIT: HEAD is not on top of base"
[ -z "$("${G[@]}" rev-list --merges "base..$head")" ] || die "$EDIT: merge commits"
mapfile -t commits < <("${G[@]}" rev-list --reverse "base..$head")
[ ${#commits[@]} -gt 0 ] || die "$EDIT: no commits on top of base"

STAGE=$(mktemp -d "$CACHE/save.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/series" "$STAGE/fp"
cp "$TOP/series/cover-letter" "$STAGE/series/"

# Patch directory names: git format-patch's file names, without ".patch".
"${G[@]}" format-patch -q -o "$STAGE/fp" "base..$head"
mapfile -t names < <(cd "$STAGE/fp" && ls | sed 's/\.patch$//')
rm -rf "$STAGE/fp"
[ ${#names[@]} = ${#commits[@]} ] || die "format-patch named ${#names[@]} of ${#commits[@]} commits"

declare -A ADDED=()
{
	echo "# The patch series, in order: one directory under series/ per patch."
	printf '%s\n' "${names[@]}"
} >"$STAGE/series/series"
for i in "${!commits[@]}"; do
	c=${commits[i]} d=$STAGE/series/${names[i]}
	mkdir -p "$d"
	# The message without the Signed-off-by series-commits.sh adds.
	"${G[@]}" log -1 --format=%B "$c" | message_body >"$d/message"
	changed=()
	while IFS=$'\t' read -r st f; do
		case "$st" in
		A)
			case " ${OWN_ENTRIES[*]} " in *" ${f%%/*} "*)
				die "${names[i]}: adds $f, a path of the project's own, not a kernel-tree path" ;;
			esac
			ADDED[$f]=${names[i]}
			echo "$f" >>"$d/files.unsorted"
			;;
		M) changed+=("$f") ;;
		*) die "${names[i]}: $f: status $st (the series adds and changes files; it cannot delete, rename or change their type)" ;;
		esac
	done < <("${G[@]}" diff-tree -r --no-renames --name-status "$c^" "$c")
	[ ! -f "$d/files.unsorted" ] || { sort "$d/files.unsorted" >"$d/files" && rm "$d/files.unsorted"; }
	[ ${#changed[@]} = 0 ] ||
		"${G[@]}" diff --no-renames --no-ext-diff --abbrev=7 "$c^" "$c" -- "${changed[@]}" \
			>"$d/upstream.diff"
done
for f in "${!ADDED[@]}"; do
	mkdir -p "$STAGE/$(dirname "$f")"
	"${G[@]}" show "$head:$f" >"$STAGE/$f"
	[ "$("${G[@]}" ls-tree "$head" -- "$f" | cut -d' ' -f1)" = 100755 ] && chmod +x "$STAGE/$f"
done

# Read it back: the same commits, or nothing is written.
RNETCORE_SRC=$STAGE "$TOP/tooling/series-commits.sh" refs/rnetcore/save-check >/dev/null
[ "$(series_fingerprint refs/rnetcore/save-check)" = "$(series_fingerprint "$head")" ] || {
	"${G[@]}" update-ref -d refs/rnetcore/save-check
	die "the series does not read back to the same commits (trees and messages); nothing written"
}
"${G[@]}" update-ref -d refs/rnetcore/save-check

# Write: the old series and project files out, the new ones in.
while read -r f; do
	rm -f "$TOP/$f"
	dir=$(dirname "$f")
	while [ "$dir" != . ] && rmdir "$TOP/$dir" 2>/dev/null; do dir=$(dirname "$dir"); done
done < <(kernel_files "$TOP")
rm -rf "$TOP/series"
(cd "$STAGE" && tar -cf - .) | (cd "$TOP" && tar -xf -)
log "saved ${#commits[@]} patches from $EDIT into series/ and the project files"
