# Perl SDK: (re)build the distribution out of tree (scripts/build.d/75-perl.sh: build/perl-src)
# against build/prefix and run its Test::More suite through `make test` (TAP summary).
stage_perl() {
  bash "$ROOT/scripts/build.d/75-perl.sh"
  cd "$ROOT/build/perl-src"
  WAFERMON_PERL_SOURCE="$ROOT/sdk-perl" make test 2>&1 | grep -v '^"/usr/bin/perl"\|^PERL_DL_NONLAZY\|cp_nonempty'
}

run_stage perl stage_perl
