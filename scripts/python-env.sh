#!/usr/bin/env bash
# Creates the Python virtual environment for training, teacher export and the
# S3 test server once per machine, cached outside the repository because
# PyTorch is large. When batch-image/requirements.txt changes, the same
# environment is updated in place by pip instead of being rebuilt.
# With --print, prints the environment's path and changes nothing.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
requirements="$repo_root/batch-image/requirements.txt"
cache_root="${VOCAGNO_CACHE_DIR:-$HOME/.cache/vocagno}"
venv="$cache_root/venv"

if [[ "${1:-}" == "--print" ]]; then
  echo "$venv"
  exit 0
fi

mkdir -p "$cache_root"
exec 9>"$cache_root/venv.lock"
flock 9
wanted="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [[ -f "$venv/.requirements-sha256" && "$(cat "$venv/.requirements-sha256")" == "$wanted" ]]; then
  exit 0
fi
if [[ ! -x "$venv/bin/python" ]]; then
  echo "vocagno: creating the Python environment in $venv (PyTorch is large: a few minutes, once)" >&2
  python3 -m venv "$venv"
fi
echo "vocagno: installing batch-image/requirements.txt into $venv" >&2
"$venv/bin/python" -m pip install --quiet -r "$requirements"
echo "$wanted" >"$venv/.requirements-sha256"
