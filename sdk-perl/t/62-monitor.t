use strict;
use warnings;
use Test::More;
use lib 't/lib';
use WMTest;
use WaferMon;

# A schedule monitor declared from code travels in the started event's metadata under
# "wafermon.monitor", beside the job's own metadata (which is left unchanged).
my $d = direct_dir();
my $md = { recipe => 'r7' };
my $monitor = { schedule => '0 2 * * *', tz => 'Europe/Berlin', max_runtime_s => 3600 };
my $job = WaferMon->job(business_key => 'nightly-backup', metadata => $md, monitor => $monitor);
$job->succeed;
my $plain = WaferMon->job(business_key => 'hourly', monitor => { interval_s => 60 });
$plain->succeed;
my @events = read_events($d);
my ($started) = grep { $_->{event_kind} eq 'started' } events_of($job->id, @events);
is_deeply($started->{metadata}, { recipe => 'r7', 'wafermon.monitor' => $monitor }, 'declaration merged');
is_deeply($md, { recipe => 'r7' }, "the caller's metadata is left alone");
my ($second) = grep { $_->{event_kind} eq 'started' } events_of($plain->id, @events);
is_deeply($second->{metadata}, { 'wafermon.monitor' => { interval_s => 60 } }, 'declaration alone');

eval { WaferMon->job(monitor => '0 2 * * *') };
isa_ok($@, 'WaferMon::Error::InvalidArgumentError');
like("$@", qr/monitor must be a hash reference/, 'refused in our words');

done_testing;
