# SPDX-License-Identifier: GPL-2.0
#
# Common settings for the tooling scripts; sourced, not run.
#
# Everything heavy lives in one cache directory outside the clone, so that
# a fresh clone at another path (CI) reuses the extracted base tree, the
# build directory and ccache: paths stay identical and builds incremental.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Where the series and the project's kernel files are read from: the
# repository (default), or a staged copy that series-save.sh verifies.
SRC=${RNETCORE_SRC:-$TOP}
CACHE=${RNETCORE_CACHE:-$HOME/.cache/rnetcore}
TREE=$CACHE/tree
# Two kernels from the same tree: "debug" (KASAN, lockdep, kmemleak, fault
# injection; what `make test` and `make run` boot) and "bench" (no debug
# options; what `make bench` times). Each has its own build directory.
PROFILE=${RNETCORE_PROFILE:-debug}
case "$PROFILE" in
debug) BUILD=$CACHE/build ;;
bench) BUILD=$CACHE/build-bench ;;
*) echo "RNETCORE_PROFILE=$PROFILE: want debug or bench" >&2; exit 2 ;;
esac
OUT=${RNETCORE_OUT:-$TOP/out}
# The kernel's drivers/net selftests, installed out of tree (ksft.sh).
KSFT=$CACHE/ksft
BASE_TARBALL=/usr/src/linux-source-6.12.tar.xz
BASE_VERSION=6.12.117
JOBS=${JOBS:-$(nproc)}

# The project's Python virtualenv (virtme-ng, checkpatch's modules) first.
export PATH="$CACHE/venv/bin:$HOME/.cargo/bin:$PATH"
export CCACHE_DIR=${CCACHE_DIR:-$CACHE/ccache}
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-8G}
export CCACHE_BASEDIR=$CACHE
export CCACHE_NOHASHDIR=1
export CCACHE_SLOPPINESS=time_macros

# Every kernel make needs the Debian rustc/rustdoc (the rustup toolchain on
# PATH has no rust-src; without these CONFIG_RUST silently drops out).
KMAKE=(make -C "$TREE" O="$BUILD" LLVM=1 CC="ccache clang"
	RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
	BINDGEN="$HOME/.cargo/bin/bindgen" CLIPPY_DRIVER=/usr/bin/clippy-driver
	RUSTFMT=/usr/bin/rustfmt)

# The repository root is a kernel tree: every project file sits at its
# kernel-tree path (rust/..., Documentation/..., drivers/...), beside the
# project's own entries below, which are not kernel files.
OWN_ENTRIES=(.git .ci .gitignore Makefile README.md series tooling out)

# kernel_files [DIR]: the kernel-tree files in DIR (default $SRC), sorted.
kernel_files() {
	local dir=${1:-$SRC} prune=() e
	for e in "${OWN_ENTRIES[@]}"; do
		prune+=(-path "./$e" -prune -o)
	done
	(cd "$dir" && find . "${prune[@]}" -type f -print) | sed 's|^\./||' | sort
}

# The Signed-off-by identity of the series' commits: whoever runs the
# tooling (git config of the project repository), as the DCO requires;
# RNETCORE_SIGNOFF overrides.
signoff_identity() {
	if [ -n "${RNETCORE_SIGNOFF:-}" ]; then
		echo "$RNETCORE_SIGNOFF"
		return
	fi
	echo "$(git -C "$TOP" config user.name || echo rnetcore)" \
		"<$(git -C "$TOP" config user.email || echo rnetcore@localhost)>"
}

# message_body: a commit message (stdin) without the Signed-off-by of
# signoff_identity when it is the last line (series-commits.sh adds it):
# what a patch's message file holds.
message_body() {
	python3 -c '
import sys
lines = sys.stdin.read().rstrip("\n").split("\n")
if lines[-1] == "Signed-off-by: " + sys.argv[1]:
    lines.pop()
print("\n".join(lines).rstrip("\n"))' "$(signoff_identity)"
}

# series_fingerprint REF: for each commit of base..REF, its tree and its
# message body; two series with the same fingerprint are the same patches.
series_fingerprint() {
	local c
	for c in $(git -C "$TREE" rev-list --reverse "base..$1"); do
		git -C "$TREE" rev-parse "$c^{tree}"
		git -C "$TREE" log -1 --format=%B "$c" | message_body
	done
}

log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Serialise users of the shared cache (two clones building at once would
# trample each other's tree and build directory).
lock_cache() {
	[ -n "${RNETCORE_LOCKED:-}" ] && return 0
	mkdir -p "$CACHE"
	exec 9>"$CACHE/.lock"
	flock 9
	export RNETCORE_LOCKED=1
}
