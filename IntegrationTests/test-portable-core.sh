#!/usr/bin/env bash
# The embeddable modules (RosenpassCrypto, RosenpassProtocol and what they stand on) use no
# Linux-only API (scripts/check-portable-core.py, docs/embedding.md). Needs no root and no build.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
python3 "$here/../scripts/check-portable-core.py"
