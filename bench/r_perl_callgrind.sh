#!/usr/bin/env bash
# Instructions per job start+finish on the application thread for R and Perl, under callgrind:
# the main thread's instruction count for N2 jobs minus that for N1 jobs, divided by N2 - N1 (so
# start-up, configuration and the final flush cancel out; the delivery thread is counted apart).
# Deterministic, unlike wall-clock figures on a loaded machine. Needs the R and Perl stages built
# (build/r-lib, build/perl-src/blib) and valgrind.   bench/r_perl_callgrind.sh [N1] [N2]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N1=${1:-500}
N2=${2:-2500}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cat >"$WORK/job.R" <<'R'
suppressPackageStartupMessages(library(wafermon))
a <- commandArgs(TRUE); d <- a[[1]]; n <- as.integer(a[[2]])
wafermon_configure(mode = "direct", direct_backends = list(list(type = "filesystem", path = file.path(d, "out"))),
                   spool = list(path = file.path(d, "spool")), queue = list(size = 100000L), log_level = "off")
for (i in seq_len(n)) { j <- job_start("batch-1"); job_finish(j); job_close(j) }
wafermon_flush(600)
R
cat >"$WORK/job.pl" <<'PL'
use WaferMon; my ($d, $n) = @ARGV;
WaferMon->configure(mode => "direct", direct_backends => [{ type => "filesystem", path => "$d/out" }],
                    spool => { path => "$d/spool" }, queue => { size => 100000 }, log_level => "off");
for (1 .. $n) { my $j = WaferMon->job(business_key => 'batch-1'); $j->succeed; $j->release }
WaferMon->flush(600);
PL
main_ir() { # name n command...
  local name=$1 n=$2; shift 2
  mkdir -p "$WORK/$name-$n"
  valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$WORK/$name-$n.cg" "$@" "$WORK/$name-$n" "$n" \
    >/dev/null 2>"$WORK/$name-$n.log"
  grep -E '^totals:' "$WORK/$name-$n.cg-01" | awk '{print $2}'
}
per_job() { # name command...
  local name=$1; shift
  local a b
  a=$(main_ir "$name" "$N1" "$@")
  b=$(main_ir "$name" "$N2" "$@")
  echo "$name start+finish: $(((b - a) / (N2 - N1))) instructions/job on the app thread (callgrind, $N1 vs $N2 jobs)"
}
R_HOME=$(R RHOME) R_LIBS="$ROOT/build/r-lib" per_job r "$(R RHOME)/bin/exec/R" --no-echo --no-restore --file="$WORK/job.R" --args
per_job perl perl -I"$ROOT/build/perl-src/blib/lib" -I"$ROOT/build/perl-src/blib/arch" "$WORK/job.pl"
