#!/usr/bin/env bash
# Sets the version of every part of the repository: VERSION, then each copy of it that a build
# cannot read from VERSION itself (the list is scripts/version.py's STAMPS).
#
#   scripts/bump-version.sh 0.2.0
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -ne 1 ]; then
  echo "usage: $0 NEW_VERSION   (MAJOR.MINOR.PATCH, e.g. 0.2.0)" >&2
  exit 2
fi
python3 scripts/version.py stamp "$1"
python3 scripts/version.py check
echo "bump-version: $(cat VERSION) everywhere; commit, then rebuild (scripts/build.sh) and reinstall (scripts/bootstrap.sh)"
