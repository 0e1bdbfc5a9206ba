#!/usr/bin/env bash
# Set up (virtualenv + dependencies) and run the app on embedded defaults: SQLite and the embedded session store in
# ./data, the lesson library, no AI provider unless OPENAI_API_KEY / OPENAI_BASE_URL are set.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
exec .venv/bin/streamlit run streamlit_app.py --server.port "${PORT:-8501}" "$@"
