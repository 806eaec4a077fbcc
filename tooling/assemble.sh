#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Assemble the working kernel tree: pristine base + the project's files
# (at their kernel-tree paths in the repository) + its diffs to upstream
# files (series/*/upstream.diff).
#
# The tree is a git repository whose first commit, tagged "base", is the
# pristine Linux 6.12.117 from Debian's linux-source-6.12. Only files whose
# content changed are written, so an unchanged project rebuilds nothing.
set -euo pipefail
. "$(dirname "$0")/env.sh"
lock_cache

# 1. The pristine base, extracted and committed once.
if ! git -C "$TREE" rev-parse -q --verify base >/dev/null 2>&1; then
	[ -r "$BASE_TARBALL" ] || die "$BASE_TARBALL missing (run tooling/install.sh)"
	log "extracting $BASE_TARBALL (once)"
	rm -rf "$TREE" "$TREE.tmp"
	mkdir -p "$TREE.tmp"
	tar -xf "$BASE_TARBALL" -C "$TREE.tmp" --strip-components=1
	grep -q "^SUBLEVEL = ${BASE_VERSION##*.}\$" "$TREE.tmp/Makefile" ||
		die "base tarball is not $BASE_VERSION"
	git -C "$TREE.tmp" init -q -b master
	# No background gc: it would inherit and hold the cache lock.
	git -C "$TREE.tmp" config gc.auto 0
	git -C "$TREE.tmp" config maintenance.auto false
	git -C "$TREE.tmp" add -A -f .
	git -C "$TREE.tmp" -c user.name=base -c user.email=base@localhost \
		commit -q -m "Linux $BASE_VERSION" \
		-m "Pristine source from Debian's linux-source-6.12 package."
	git -C "$TREE.tmp" tag base
	mv "$TREE.tmp" "$TREE"
fi

# 2. The series, in order, and the files it owns.
mapfile -t PATCHES < <("$TOP/tooling/series.sh" list)
STAGE=$(mktemp -d "$CACHE/stage.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
declare -A OWNER=()
MANAGED=()

for p in "${PATCHES[@]}"; do
	dir=$SRC/series/$p
	if [ -f "$dir/upstream.diff" ]; then
		# Upstream files this diff touches start from their base content
		# unless an earlier diff already staged them. Hunks for project
		# files added by an earlier patch are skipped here: the repository has
		# their final content (patches.sh replays the hunks per commit).
		excl=()
		while read -r f; do
			case "${OWNER[$f]:-}" in
			diff) continue ;;
			"") ;;
			*)
				excl+=(--exclude="$f")
				continue
				;;
			esac
			git -C "$TREE" cat-file -e "base:$f" 2>/dev/null ||
				die "series/$p/upstream.diff: $f is neither a base file nor added by an earlier patch"
			mkdir -p "$STAGE/$(dirname "$f")"
			git -C "$TREE" show "base:$f" >"$STAGE/$f"
			OWNER[$f]=diff
			MANAGED+=("$f")
		done < <(sed -n 's|^+++ b/||p' "$dir/upstream.diff")
		if ! err=$(cd "$STAGE" && git apply --whitespace=nowarn "${excl[@]}" \
			"$dir/upstream.diff" 2>&1); then
			die "series/$p/upstream.diff does not apply:
$err"
		fi
	fi
	while read -r f; do
		[ -f "$SRC/$f" ] || die "series/$p/files: $f does not exist"
		[ -z "${OWNER[$f]:-}" ] || die "series/$p/files: $f already owned by ${OWNER[$f]}"
		git -C "$TREE" cat-file -e "base:$f" 2>/dev/null &&
			die "series/$p/files: $f exists upstream (change it with a diff)"
		OWNER[$f]=$p
		MANAGED+=("$f")
	done < <("$TOP/tooling/series.sh" files "$p")
done

# Every project file must belong to a patch.
while read -r f; do
	[ -n "${OWNER[$f]:-}" ] || die "$f is in no patch of series/series"
done < <(kernel_files)

# 3. Write only what changed.
changed=0
for f in "${MANAGED[@]}"; do
	if [ "${OWNER[$f]}" = diff ]; then src=$STAGE/$f; else src=$SRC/$f; fi
	if ! cmp -s "$src" "$TREE/$f"; then
		mkdir -p "$TREE/$(dirname "$f")"
		cp "$src" "$TREE/$f"
		changed=$((changed + 1))
	fi
done

# 4. Files managed last time but no longer: back to base, or removed.
STATE=$TREE/.git/rnetcore-managed
if [ -f "$STATE" ]; then
	while read -r f; do
		[ -z "$f" ] || [ -n "${OWNER[$f]:-}" ] && continue
		if git -C "$TREE" cat-file -e "base:$f" 2>/dev/null; then
			git -C "$TREE" show "base:$f" >"$TREE/$f"
		else
			rm -f "$TREE/$f"
		fi
		changed=$((changed + 1))
	done <"$STATE"
fi
printf '%s\n' "${MANAGED[@]}" | sed '/^$/d' | sort >"$STATE"
log "tree $TREE: ${#MANAGED[@]} project files, $changed written"
