#!/usr/bin/env bash
# Builds a wheel of each of the repository's Python packages into one folder (default dist/), built
# with the locked build backends. Install from it as a user does:
#
#   bash scripts/wheels.sh dist
#   pip install --find-links dist wafermon-sidecar        # or wafermon-gateway, wafermon
#
# (`pip install ./sidecar` alone cannot work: its dependency wafermon-schema is not on PyPI.)
set -euo pipefail
cd "$(dirname "$0")/.."
DIST=$(realpath -m "${1:-dist}")
PY=${PY:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
LOCK=scripts/requirements.lock
# wafermon-schema, wafermon-sidecar, wafermon-gateway, and wafermon (the SDK; compiles libwafermon).
"$PY" -m pip wheel -q --no-deps -w "$DIST" -c "$LOCK" --build-constraint "$LOCK" \
  ./conformance/python ./sidecar ./gateway .
ls "$DIST"
