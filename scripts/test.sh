#!/usr/bin/env bash
# The project's test command (`npm test`): type check, lint, TypeScript tests
# and Python tests. Tests that need Python (the trainer, the teacher export,
# the S3-protocol test server) use the cached environment that this script
# creates or updates first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/python-env.sh
VOCAGNO_PYTHON="$(bash scripts/python-env.sh --print)/bin/python"
export VOCAGNO_PYTHON

echo "== type check and lint"
npx tsc --noEmit
npx biome check .
"$VOCAGNO_PYTHON" -m ruff check batch-image --config batch-image/pyproject.toml

echo "== TypeScript tests"
npx vitest run

echo "== Python tests"
"$VOCAGNO_PYTHON" -m pytest -q batch-image -c batch-image/pyproject.toml
