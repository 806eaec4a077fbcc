# SPDX-License-Identifier: GPL-2.0
#
# Common settings for the tooling scripts; sourced, not run.
#
# Everything heavy lives in one cache directory outside the clone, so that
# a fresh clone at another path (CI) reuses the extracted base tree, the
# build directory and ccache: paths stay identical and builds incremental.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${RNETCORE_CACHE:-$HOME/.cache/rnetcore}
TREE=$CACHE/tree
BUILD=$CACHE/build
OUT=${RNETCORE_OUT:-$TOP/out}
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
