#!/usr/bin/env bash
# Installs what the build and the tests need on a fresh Debian 12 machine, then the Python
# environment in .venv. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libcurl4-openssl-dev libjansson-dev zlib1g-dev libsimdjson-dev
  clang-format valgrind
  clang libclang-rt-14-dev
  postgresql
  prometheus-alertmanager prometheus  # the alerting stage: a real Alertmanager, and promtool
  openjdk-17-jdk-headless maven
  r-base-core r-cran-testthat r-cran-jsonlite r-cran-withr
  python3-venv
  chromium  # the dashboard's browser tests (driven by playwright-core from npm)
  # The sidecar backends' real peers, each started by its tests as their own process:
  zabbix-server-pgsql  # Zabbix server 6.0 over the test's PostgreSQL (schema from its SQL scripts)
  rabbitmq-server redis-server mariadb-server
)
# Node.js and npm for the dashboard's front-end packages: Debian's, unless a Node.js that brings its
# own npm is installed already (Debian's npm package conflicts with such a nodejs).
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(nodejs npm)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  # --no-install-recommends: r-base-core alone would otherwise pull ~700 packages.
  # The servers among them are test peers, started by the tests on free ports; a policy-rc.d keeps
  # their packages from also starting them as system services (only when the machine has none).
  own_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    own_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  [ -z "$own_policy" ] || $SUDO rm -f /usr/sbin/policy-rc.d
fi

# The OpenSearch test peer (server jar + transport-netty4 from Maven Central) into var/peers/.
sidecar/peers/opensearch/fetch.sh
# The Kafka test peer (the broker kafka_2.13 and its jars from Maven Central) into var/peers/.
sidecar/peers/kafka/fetch.sh
# The NATS test peer (nats-server with JetStream, built from its Go module) into var/peers/.
sidecar/peers/nats/fetch.sh
sidecar/peers/ferretdb/fetch.sh  # the mongodb backend's peer: FerretDB built from its Go module
sidecar/peers/cassandra/fetch.sh  # the cassandra backend's peer: cassandra-all's jars from Maven Central

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# Every third-party package at the exact version of scripts/requirements.lock (refresh it on purpose
# with scripts/lock.sh): as a constraint for what is installed and for pip's isolated builds.
LOCK=scripts/requirements.lock
.venv/bin/python -m pip install -q -c "$LOCK" pip setuptools wheel
# Each Python package of the repository, editable, with its test extras: one file per component in
# scripts/requirements.d/, installed together so pip resolves them as one set.
req_args=()
for req in scripts/requirements.d/*.txt; do req_args+=(-r "$req"); done
.venv/bin/python -m pip install -q -c "$LOCK" --build-constraint "$LOCK" "${req_args[@]}"
.venv/bin/python scripts/check_lock.py "$LOCK"
echo "bootstrap: done"
