#!/usr/bin/env bash
# Land a capability branch on main, fast-forward only, from its worktree.
# Usage (inside your worktree, everything committed): scripts/land.sh
# Under one lock (so that landings queue instead of racing each other):
# 1. merges main into your branch (on conflicts: resolve, commit, run again),
# 2. runs the checks that catch cross-capability breakage,
# 3. fast-forwards main.
set -euo pipefail
branch=$(git rev-parse --abbrev-ref HEAD)
[ "$branch" != main ] || { echo "run this from your feature worktree"; exit 2; }
[ -z "$(git status --porcelain)" ] || { echo "commit first"; git status --short; exit 2; }
exec 9>/work/.land.lock
echo "waiting for the landing lock..."
flock 9
git merge --no-edit main || { echo "CONFLICTS: resolve, commit, run again"; exit 1; }
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/pytest -q -x -p no:randomly tests/test_schema.py tests/test_migrations.py \
  tests/test_authz_sweep.py ${LAND_TESTS:-}
git -C /work/main merge --ff-only "$branch" && echo "LANDED $branch at $(git rev-parse --short HEAD)"
