#!/usr/bin/env bash
# The project's test command (`npm test`): sets up what the tests need, then
# type checks, lints and runs the TypeScript and Python tests.
# - The Python environment (PyTorch, transformers, ONNX, moto's S3 server) is
#   created once and cached; see scripts/python-env.sh.
# - The report test renders in a real headless Chromium: installed from
#   Debian's packages when missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/python-env.sh
VOCAGNO_PYTHON="$(bash scripts/python-env.sh --print)/bin/python"
export VOCAGNO_PYTHON
# Expected failures in tests log at error level; info lines would bury the results.
export VOCAGNO_LOG_LEVEL="${VOCAGNO_LOG_LEVEL:-warn}"

if [[ ! -x "${VOCAGNO_CHROMIUM:-/usr/bin/chromium}" ]]; then
  if [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null 2>&1; then
    echo "vocagno: installing Chromium for the report rendering test" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "vocagno: the report test needs Chromium at /usr/bin/chromium; install it (apt-get install chromium) or set VOCAGNO_CHROMIUM, then rerun" >&2
    exit 1
  fi
fi

if [[ ! -f build/tokenizers/tinyllama/tokenizer.json ]]; then
  npm run --silent postinstall
fi

echo "== type check and lint"
npx tsc --noEmit
npx biome check .
"$VOCAGNO_PYTHON" -m ruff check batch-image --config batch-image/pyproject.toml

echo "== TypeScript tests"
npx vitest run

echo "== Python tests"
"$VOCAGNO_PYTHON" -m pytest -q batch-image -c batch-image/pyproject.toml
