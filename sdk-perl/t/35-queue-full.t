use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use WaferMon;

# queue.when_full = drop: an emit into a full queue is counted in "dropped", never an exception.
my $d = tempdir('wafermon-perl-XXXXXX', TMPDIR => 1, CLEANUP => 1);
# A batch larger than the queue and a long interval: nothing drains until the flush.
WaferMon->configure(
    mode            => 'direct',
    direct_backends => [{ type => 'filesystem', path => "$d/out" }],
    spool           => { path => "$d/spool" },
    queue           => { size => 5, when_full => 'drop' },
    batch_size      => 1000,
    flush_interval  => 60,
);
for my $i (1 .. 10) {    # 20 events into a queue of 5
    my $ok = eval { WaferMon->job(business_key => 'dropping')->succeed; 1 };
    ok($ok, "job $i: no exception") or diag($@);
}
my $stats = WaferMon->stats;
is($stats->{emitted}, 5,  'five emitted');
is($stats->{dropped}, 15, 'fifteen dropped, counted');
WaferMon->flush(10);
is(WaferMon->stats->{delivered}, 5, 'the five delivered');
WaferMon->close(5);
done_testing;
