#!/usr/bin/env perl
# Perl start+finish cost per job (ns/op), mode "direct" to a temp dir:
#   perl bench/perl_job_overhead.pl [JOBS]
# Uses the out-of-tree build of scripts/stages/75-perl.sh (build/perl-src/blib) unless WaferMon is
# installed. Prints "perl start+finish: N ns/op (...)" lines to put next to the C, Java and R figures.
use strict;
use warnings;
use FindBin;
use File::Temp qw(tempdir);
use Time::HiRes qw(time);
BEGIN {
    my $blib = $ENV{WAFERMON_PERL_BLIB} // "$FindBin::Bin/../build/perl-src/blib";
    unshift @INC, "$blib/lib", "$blib/arch" if -d "$blib/arch";
}
use WaferMon;

my $n = shift // 100_000;
my $dir = tempdir('wafermon-bench-perl-XXXXXX', TMPDIR => 1, CLEANUP => 1);
WaferMon->configure(mode => 'direct', direct_backends => [{ type => 'filesystem', path => "$dir/out" }],
                    spool => { path => "$dir/spool" }, queue => { size => 4 * $n + 10_000 }, log_level => 'off');

my %variants = (
    '1 explicit: job + succeed + release' => sub {
        for (1 .. $_[0]) { my $j = WaferMon->job(business_key => 'batch-1'); $j->succeed; $j->release }
    },
    '2 scope guard: { my $job = WaferMon->job(...) }' => sub {
        for (1 .. $_[0]) { my $j = WaferMon->job(business_key => 'batch-1') }
    },
    '3 run_job' => sub {
        for (1 .. $_[0]) { WaferMon->run_job(sub { 1 }, business_key => 'batch-1') }
    },
);
for my $name (sort keys %variants) {
    my $f = $variants{$name};
    $f->($n < 1000 ? $n : 1000);    # warm-up
    WaferMon->flush(60);
    my $t0 = time;
    $f->($n);
    my $t1 = time;
    printf "perl start+finish: %.0f ns/op (%s, %d jobs, perl %vd)\n", ($t1 - $t0) / $n * 1e9, substr($name, 2), $n, $^V;
}
WaferMon->flush(120);
my $st = WaferMon->stats;
printf "perl bench: emitted=%d delivered=%d spooled=%d dropped=%d\n", @{$st}{qw(emitted delivered spooled dropped)};
WaferMon->close;
