use strict;
use warnings;
use Test::More;
use lib 't/lib';
use WMTest;

# Global destruction frees objects in no fixed order: jobs in globals, in cycles and in sub-job
# chains may outlive the client object. The client is left open then (the core's exit handler
# flushes it), so every job still finishes and nothing touches a freed client.
my $d = direct_dir();
my $pid = fork // die "fork: $!";
if (!$pid) {
    exec $^X, (map { "-I$_" } @INC), '-e', q{
        use WaferMon;
        my ($d) = @ARGV;
        WaferMon->configure(mode => 'direct', direct_backends => [{ type => 'filesystem', path => "$d/out" }],
                            spool => { path => "$d/spool-child" });
        our @jobs = map { WaferMon->job(business_key => "global-$_") } 1 .. 20;
        our @subs = map { $_->subjob(sub_key => 'sub') } @jobs;
        my $cycle = { job => WaferMon->job(business_key => 'cycle') };
        $cycle->{self} = $cycle;    # leaked until global destruction
        our $client = WaferMon->client;
        exit 0;
    }, $d;
}
waitpid $pid, 0;
is($?, 0, 'the process exits cleanly');
my @ev = read_events($d);
my @fin = grep { $_->{event_kind} eq 'finished' } @ev;
is(scalar(grep { ($_->{business_key} // '') =~ /^global-/ && $_->{entity_type} eq 'job' } @fin), 20, 'every global job finished');
is(scalar(grep { $_->{entity_type} eq 'subjob' } @fin), 20, 'every sub-job finished');
is(scalar(grep { ($_->{business_key} // '') eq 'cycle' && $_->{entity_type} eq 'job' } @fin), 1, 'the job in a cycle finished');
is(scalar(grep { $_->{status} ne 'succeeded' } @fin), 0, 'all succeeded (exit 0)');
done_testing;
