#!/usr/bin/env bash
# npm run test:transformers: agreement with Hugging Face transformers (see README.md here).
# Installs torch (CPU) and transformers into tools/transformers/.venv with pip, writes the
# studio's HF folders and our reference ids/logits (produce.ts), and runs check.py on them.
# Needs PyPI and download.pytorch.org; where they cannot be reached it says so and fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=tools/transformers
venv=$here/.venv
out=${MOE_STUDIO_TRANSFORMERS_OUT:-$here/.out}

reachable() {
  python3 - "$1" <<'PY'
import socket, sys
try:
    socket.create_connection((sys.argv[1], 443), timeout=10).close()
except OSError:
    sys.exit(1)
PY
}
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import torch, transformers' 2>/dev/null; then
  if ! reachable pypi.org || ! reachable files.pythonhosted.org || ! reachable download.pytorch.org; then
    echo "test:transformers: PyPI unreachable, cannot install torch/transformers" >&2
    exit 1
  fi
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip
  "$venv/bin/pip" install --quiet torch --index-url https://download.pytorch.org/whl/cpu
  "$venv/bin/pip" install --quiet -r "$here/requirements.txt"
fi
rm -rf "$out"
npx tsx "$here/produce.ts" "$out"
"$venv/bin/python" "$here/check.py" "$out"
