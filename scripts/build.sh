#!/usr/bin/env bash
# Builds what the tests and the demo use. Filled in as components land.
set -euo pipefail
cd "$(dirname "$0")/.."
