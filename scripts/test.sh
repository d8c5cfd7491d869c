#!/usr/bin/env bash
# The whole test suite on a fresh machine: system packages the browser test needs,
# a virtual environment with the project and its [test] extra, then pytest with coverage.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq && apt-get install -y -qq chromium >/dev/null
    else
        echo "note: Chromium is not installed (apt-get install chromium); the dashboard browser test will be skipped" >&2
    fi
fi
python3 -m venv .venv
.venv/bin/pip install -q -e '.[test]'
exec .venv/bin/pytest --cov=obra_monitor --cov-report=term "$@"
