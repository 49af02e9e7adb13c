# Exit with a hung sidecar (accepts connections, never answers): perl is gone within
# exit_flush_timeout + 0.5 s (docs/perl.md) and every event is on the spool for the next start.
# The bound allows for perl's own start and a loaded machine; before the fix it took 4 x 30 s.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use Time::HiRes qw(time);
use WaferMon;

# A listener nobody accepts from: the kernel completes the handshake, no byte ever comes back.
my $hole = IO::Socket::INET->new(Listen => 64, LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp')
    or die "cannot listen: $!";
my $port = $hole->sockport;
my $dir = tempdir(CLEANUP => 1);
my $config = qq({"sidecar": {"url": "http://127.0.0.1:$port", "timeout": 30, "retries": 3}, )
    . qq("spool": {"path": "$dir/spool"}, "exit_flush_timeout": 0.5, "flush_interval": 0.01, )
    . qq("log_level": "off"});

my $child = <<'PERL';
use WaferMon;
use Time::HiRes qw(sleep);
for my $i (1 .. 20) {
    my $job = WaferMon->job(business_key => "hung-$i");
    sleep 0.002;    # several batches: one in flight, more queued behind it
    $job->succeed;
}
PERL

local $ENV{WAFERMON_CONFIG} = $config;
my $began = time;
my $status = system($^X, (map {"-I$_"} grep { !ref } @INC), '-e', $child);
my $took = time - $began;
diag(sprintf 'perl exit with a hung sidecar took %.2fs', $took);
is($status, 0, 'the child exits cleanly');
cmp_ok($took, '<', 0.5 + 6, 'within exit_flush_timeout (+ start-up slack)');

close $hole;    # refused now: a client on the same spool keeps it as it is and counts it
WaferMon->configure();
is(WaferMon->stats->{spool_pending}, 40, 'every event of the child is on the spool');
WaferMon->close(0.2);

done_testing;
