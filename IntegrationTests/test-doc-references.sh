#!/usr/bin/env bash
# Every design note the code, tests and scripts cite is in docs/, with the cited section
# (scripts/check-doc-references.py). Needs no root and no build.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
python3 "$here/../scripts/check-doc-references.py"
