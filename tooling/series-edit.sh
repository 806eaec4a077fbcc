#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make series-edit`: materialize the series as commits on the pristine
# base, checked out in a git worktree of the tree's repository (branch
# "edit", default $OUT/series, RNETCORE_EDIT overrides). Edit there with
# ordinary git (commit --fixup, rebase -i --autosquash base, split,
# reorder, reword), then write the result back with `make series-save`.
#
# An existing worktree with uncommitted changes, or with commits whose
# trees or messages differ from what series/ holds, is unsaved work:
# refused unless FORCE=1.
set -euo pipefail
. "$(dirname "$0")/env.sh"
lock_cache

EDIT=${RNETCORE_EDIT:-$OUT/series}
tip=$("$TOP/tooling/series-commits.sh" refs/heads/series)
git -C "$TREE" worktree prune

if [ -e "$EDIT/.git" ]; then
	cur=$(git -C "$EDIT" rev-parse HEAD)
	dirty=$(git -C "$EDIT" status --porcelain --untracked-files=normal)
	if [ -z "${FORCE:-}" ] && { [ -n "$dirty" ] || [ "$(series_fingerprint "$cur")" != "$(series_fingerprint "$tip")" ]; }; then
		die "$EDIT holds work that series/ does not (uncommitted changes, or commits
  that differ from it): run make series-save, or FORCE=1 make series-edit to drop it"
	fi
	git -C "$EDIT" checkout -q -f -B edit "$tip"
	git -C "$EDIT" clean -fdq
else
	mkdir -p "$(dirname "$EDIT")"
	git -C "$TREE" worktree add -q -f -B edit "$EDIT" "$tip"
fi
n=$(git -C "$TREE" rev-list --count base..edit)
log "$n patches on base in $EDIT (branch edit); edit with git, then make series-save"
