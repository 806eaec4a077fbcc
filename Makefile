# SPDX-License-Identifier: GPL-2.0
#
# rnetcore: Rust networking core for Linux, as an overlay on 6.12.117.
#
#   make run      install, build, boot the two-NIC lab guest, show traffic
#   make test     install, build, KUnit + lab checks; last line "N passed, N failed"
#   make patches  the series as git format-patch output in out/patches
#   make check    checkpatch, rustfmtcheck, CLIPPY=1, rustdoc over the series
#   make check-bisect   build every patch of the series on its own
#   make bench    production kernel, Rust vs C benchmarks; out/bench.txt
#   make profile  guest instructions per packet by symbol, per driver;
#                 out/profile.txt
#   make series-edit    the series as commits in out/series, to edit with git
#   make series-save    write out/series' commits back into series/ and files
#
# Heavy state (base tree, build directory, ccache) lives in
# $(RNETCORE_CACHE), default ~/.cache/rnetcore, shared by every clone.

T := tooling

.PHONY: all install tree build run test bench profile patches check check-bisect \
	series-edit series-save clean

all: build

install:
	@$(T)/install.sh

tree: install
	@$(T)/assemble.sh

build: tree
	@$(T)/build.sh

run: build
	@$(T)/run.sh

test: build
	@$(T)/test.sh

bench: tree
	@$(T)/bench.sh

profile: tree
	@$(T)/profile.sh

patches: tree
	@$(T)/patches.sh

check: patches
	@$(T)/check.sh

check-bisect: patches
	@$(T)/check.sh --bisect

series-edit: tree
	@$(T)/series-edit.sh

series-save: tree
	@$(T)/series-save.sh

clean:
	rm -rf out
