#!/usr/bin/env bash
# The whole test suite: every stage runs even when an earlier one failed, each prints its own
# runner's summary, and the script ends with a table and a non-zero exit if any stage failed.
# Run one stage with: scripts/test.sh STAGE [STAGE...]
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/java-17-openjdk-amd64}
export PATH="$ROOT/.venv/bin:$PATH"
PY="$ROOT/.venv/bin/python"
JOBS=${JOBS:-2}

declare -a NAMES=() RESULTS=() SECONDS_TAKEN=()

run_stage() {
  local name=$1; shift
  if ((${#SELECTED[@]})) && [[ ! " ${SELECTED[*]} " == *" $name "* ]]; then return; fi
  echo
  echo "==================== stage: $name ===================="
  local started=$SECONDS rc
  ( set -e; "$@" )
  rc=$?
  NAMES+=("$name"); SECONDS_TAKEN+=($((SECONDS - started)))
  if ((rc == 0)); then RESULTS+=("PASS"); else RESULTS+=("FAIL (exit $rc)"); fi
}

SELECTED=("$@")

# --- stages -------------------------------------------------------------------------------
# Each component owns one file in scripts/stages/ (NN-name.sh) that defines its stage function(s)
# and calls run_stage; they run in file-name order.
for stage_file in scripts/stages/*.sh; do
  # shellcheck source=/dev/null
  source "$stage_file"
done
# -------------------------------------------------------------------------------------------

echo
echo "==================== summary ===================="
failed=0
for i in "${!NAMES[@]}"; do
  printf '%-22s %-16s %5ss\n' "${NAMES[$i]}" "${RESULTS[$i]}" "${SECONDS_TAKEN[$i]}"
  [[ ${RESULTS[$i]} == PASS ]] || failed=1
done
if ((failed)); then echo "RESULT: FAILED"; exit 1; fi
echo "RESULT: all ${#NAMES[@]} stages passed"
