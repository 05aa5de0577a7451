#!/usr/bin/env bash
# Land a capability branch on main, fast-forward only, from its worktree.
# Usage (inside your worktree, everything committed): scripts/land.sh
# 1. merges main into your branch (you resolve conflicts, re-run, commit),
# 2. runs the checks that catch cross-capability breakage,
# 3. fast-forwards main under a lock. If main moved meanwhile, run it again.
set -euo pipefail
branch=$(git rev-parse --abbrev-ref HEAD)
[ "$branch" != main ] || { echo "run this from your feature worktree"; exit 2; }
[ -z "$(git status --porcelain)" ] || { echo "commit first"; git status --short; exit 2; }
git merge --no-edit main || { echo "CONFLICTS: resolve, commit, run again"; exit 1; }
.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy
.venv/bin/pytest -q -x -p no:randomly tests/test_schema.py tests/test_migrations.py \
  tests/test_authz_sweep.py ${LAND_TESTS:-}
exec 9>/work/.land.lock
flock 9
git -C /work/main merge --ff-only "$branch" && echo "LANDED $branch at $(git rev-parse --short HEAD)"
