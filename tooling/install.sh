#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install everything the build, KUnit and the guest lab need. Idempotent:
# each step checks first and does nothing when its tool is already there.
set -euo pipefail

APT_PKGS=(
	# Pinned kernel base and the Debian Rust toolchain that carries rust-src.
	linux-source-6.12 rustc-web rust-web-src rust-web-clippy rustfmt-web
	# C toolchain and kernel build dependencies.
	clang lld llvm libclang-dev flex bison libelf-dev libssl-dev bc cpio
	kmod ccache make git perl python3 python3-venv rsync
	# QEMU, and the host tools the guest uses through the shared rootfs.
	qemu-system-x86 udev iproute2 iputils-ping iperf3 ethtool bpftool
	xdp-tools socat pciutils procps
)
BINDGEN_VERSION=0.69.5
VNG_VERSION=1.42

SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo

missing=()
for p in "${APT_PKGS[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
		grep -q '^install ok installed$' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "install: apt packages: ${missing[*]}"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
		--no-install-recommends "${missing[@]}" >/dev/null
fi

export PATH="$HOME/.cargo/bin:$PATH"
if ! bindgen --version 2>/dev/null | grep -q " $BINDGEN_VERSION\$"; then
	echo "install: bindgen-cli $BINDGEN_VERSION"
	cargo install --quiet --locked bindgen-cli --version "$BINDGEN_VERSION"
fi

# Python tools live in a virtualenv of Debian's python3, in the cache shared
# by all clones, whatever python3 the environment puts first on PATH.
VENV=${RNETCORE_CACHE:-$HOME/.cache/rnetcore}/venv
if [ ! -x "$VENV/bin/python3" ]; then
	echo "install: python virtualenv $VENV"
	/usr/bin/python3 -m venv "$VENV"
fi
if ! "$VENV/bin/vng" --version 2>/dev/null | grep -q " $VNG_VERSION\$" ||
	! "$VENV/bin/python3" -c "import ply, git, yaml" 2>/dev/null; then
	# ply and GitPython: checkpatch.pl's SPDX check (scripts/spdxcheck.py);
	# PyYAML: the netlink (ynl) library of the drivers/net selftests.
	echo "install: virtme-ng $VNG_VERSION, ply, GitPython, PyYAML"
	"$VENV/bin/python3" -m pip install --quiet --disable-pip-version-check \
		"virtme-ng==$VNG_VERSION" ply GitPython PyYAML
fi
