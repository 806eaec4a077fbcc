#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check`: the kernel's own checks over the project.
#   - checkpatch.pl --strict on every patch of the series
#   - rustfmtcheck
#   - a CLIPPY=1 build and rustdoc, in a separate build directory (so the
#     main build is not rebuilt), with no warning in the project's files
#   - kernel-doc -Wall on the project's C files
# `make check-bisect` (--bisect): build every patch of the series on its
# own, in the main tree and build directory, one commit after the other.
set -uo pipefail
. "$(dirname "$0")/env.sh"
lock_cache

CHECK=$CACHE/build-check
REPORT=$OUT/check
mkdir -p "$REPORT"
fail=0
# The files the project adds or changes, relative to the tree.
mapfile -t FILES <"$TREE/.git/rnetcore-managed"

step() { printf '== %s\n' "$*"; }
bad() { printf 'FAIL: %s\n' "$*"; fail=1; }

bisect() {
	local c n=0 total ok=$CACHE/bisect-ok
	mapfile -t commits < <(git -C "$TREE" rev-list --reverse base..series)
	total=${#commits[@]}
	touch "$ok"
	for c in "${commits[@]}"; do
		n=$((n + 1))
		local subj
		subj=$(git -C "$TREE" log -1 --format=%s "$c")
		if grep -qx "$c" "$ok"; then
			echo "[$n/$total] $subj: built before"
			continue
		fi
		echo "[$n/$total] $subj"
		git -C "$TREE" checkout -q -f --detach "$c" && git -C "$TREE" clean -fdq ||
			die "cannot check out $c"
		rm -f "$BUILD/.rnetcore-config"
		if RNETCORE_LENIENT_CONFIG=1 "$TOP/tooling/build.sh" \
			>"$REPORT/bisect-$n.log" 2>&1; then
			echo "$c" >>"$ok"
		else
			bad "patch $n does not build: $subj (log: $REPORT/bisect-$n.log)"
			break
		fi
	done
	# Leave the tree at the tip's content (what assemble.sh makes) without
	# rewriting any file, back on the base branch.
	git -C "$TREE" checkout -q -f --detach series && git -C "$TREE" clean -fdq
	git -C "$TREE" symbolic-ref HEAD refs/heads/master
	git -C "$TREE" reset -q
	rm -f "$BUILD/.rnetcore-config"
	[ $fail = 0 ] && echo "all $total patches build on their own"
	exit $fail
}
[ "${1:-}" = --bisect ] && bisect

# Warnings of a rustc/clippy/rustdoc log whose location is a project file.
project_warnings() {
	python3 - "$1" "${FILES[@]}" <<-'PY'
	import re, sys
	log, files = sys.argv[1], set(sys.argv[2:])
	blocks, cur = [], []
	for line in open(log, errors="replace"):
	    if re.match(r"^(warning|error)(\[|:)", line):
	        if cur:
	            blocks.append(cur)
	        cur = [line]
	    elif cur:
	        cur.append(line)
	if cur:
	    blocks.append(cur)
	n = 0
	for b in blocks:
	    m = next((re.search(r"--> (\S+?):\d+", l) for l in b if "-->" in l), None)
	    path = m.group(1) if m else ""
	    path = re.sub(r"^(\.\./)*(tree/)?", "", path)
	    if path in files or any(path.endswith("/" + f) for f in files):
	        n += 1
	        sys.stdout.write("".join(b))
	sys.exit(1 if n else 0)
	PY
}

step "checkpatch --strict"
for p in "$OUT"/patches/[0-9]*.patch; do
	case "$p" in */0000-cover-letter.patch) continue ;; esac
	out=$("$TREE/scripts/checkpatch.pl" --root="$TREE" --strict --color=never \
		"$p")
	last=$(printf '%s\n' "$out" | grep '^total:')
	echo "${p##*/}: $last"
	printf '%s\n' "$last" | grep -q '^total: 0 errors, 0 warnings, 0 checks' ||
		{ printf '%s\n' "$out"; bad "checkpatch: ${p##*/}"; }
done

step "rustfmtcheck"
"${KMAKE[@]}" -s rustfmtcheck >"$REPORT/rustfmt.log" 2>&1
for f in "${FILES[@]}"; do
	case "$f" in *.rs) ;; *) continue ;; esac
	grep -q "^Diff in $TREE/$f" "$REPORT/rustfmt.log" && bad "rustfmt: $f"
done

step "CLIPPY=1 build and rustdoc (in $CHECK)"
mkdir -p "$CHECK"
cmp -s "$BUILD/.config" "$CHECK/.config" || cp "$BUILD/.config" "$CHECK/.config"
CMAKE=("${KMAKE[@]/#O=*/O=$CHECK}")
dirs=(rust/)
for f in "${FILES[@]}"; do
	case "$f" in rust/*) ;; *.rs) dirs+=("$(dirname "$f")/") ;; esac
done
mapfile -t dirs < <(printf '%s\n' "${dirs[@]}" | sort -u)
"${CMAKE[@]}" -s olddefconfig >/dev/null
if ! "${CMAKE[@]}" -j"$JOBS" CLIPPY=1 "${dirs[@]}" >"$REPORT/clippy.log" 2>&1; then
	tail -n 30 "$REPORT/clippy.log"
	bad "CLIPPY=1 build failed (log: $REPORT/clippy.log)"
fi
project_warnings "$REPORT/clippy.log" || bad "clippy/rustc warnings in project files"
if ! "${CMAKE[@]}" -j"$JOBS" rustdoc >"$REPORT/rustdoc.log" 2>&1; then
	tail -n 30 "$REPORT/rustdoc.log"
	bad "rustdoc failed (log: $REPORT/rustdoc.log)"
fi
project_warnings "$REPORT/rustdoc.log" || bad "rustdoc warnings in project files"

step "kernel-doc -Wall"
for f in "${FILES[@]}"; do
	case "$f" in *.c | *.h) ;; *) continue ;; esac
	out=$("$TREE/scripts/kernel-doc" -none -Wall "$TREE/$f" 2>&1)
	[ -z "$out" ] || { printf '%s\n' "$out"; bad "kernel-doc: $f"; }
done

[ $fail = 0 ] && echo "all checks passed"
exit $fail
