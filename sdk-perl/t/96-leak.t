use strict;
use warnings;
use Test::More;
use lib 't/lib';
use WMTest;
use WaferMon;

# Every path (scope guard, progress with metadata, sub-jobs, die, refused metadata) in a loop:
# the resident size must not grow between rounds once the allocator has warmed up.
plan skip_all => 'needs /proc/self/status' unless -r '/proc/self/status';
sub rss_kb { open my $f, '<', '/proc/self/status' or die $!; while (<$f>) { return $1 if /^VmRSS:\s+(\d+)/ } 0 }

my $d = direct_dir();
my @rss;
for my $round (1 .. 4) {
    for (1 .. 5000) {
        {
            my $j = WaferMon->job(business_key => 'leak', metadata => { k => [1, 2, 'x'] });
            $j->progress(0.5, { s => 'e' });
            my $s = $j->subjob(sub_key => 'w');
        }
        eval { my $j = WaferMon->job; die "x\n" };
        eval { WaferMon->job(metadata => { f => sub { } }) };
        my $r = WaferMon->run_job(sub { 1 });
    }
    WaferMon->flush(60);
    push @rss, rss_kb();
}
cmp_ok($rss[3] - $rss[1], '<', 1024, "no growth from round 2 to 4 (@rss kB)");
done_testing;
