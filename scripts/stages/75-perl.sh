# Perl SDK: build the distribution out of tree (build/perl-src) against build/prefix and run its
# Test::More suite through `make test` (TAP summary).
stage_perl() {
  rm -rf "$ROOT/build/perl-src"
  cp -r "$ROOT/sdk-perl" "$ROOT/build/perl-src"
  cd "$ROOT/build/perl-src"
  WAFERMON_PREFIX="$ROOT/build/prefix" perl Makefile.PL >"$ROOT/build/perl-build.log" 2>&1 &&
    make >>"$ROOT/build/perl-build.log" 2>&1 || { cat "$ROOT/build/perl-build.log"; return 1; }
  WAFERMON_PERL_SOURCE="$ROOT/sdk-perl" make test 2>&1 | grep -v '^"/usr/bin/perl"\|^PERL_DL_NONLAZY\|cp_nonempty'
  return "${PIPESTATUS[0]}"
}

run_stage perl stage_perl
