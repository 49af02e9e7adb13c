use strict;
use warnings;
use Config;
use Test::More;
BEGIN { plan skip_all => 'perl without ithreads' unless $Config{useithreads} }
use threads;
use lib 't/lib';
use WMTest;
use WaferMon;

# Without CLONE_SKIP, a new thread would get a copy of every handle pointing at the same C object
# and both copies' DESTROY would free it: a double free. The thread gets an unblessed undef instead.
# A job started in a thread from a temporary client keeps that client open until it is released.
my $d = direct_dir();
my $job = WaferMon->job(business_key => 'threaded');
my $seen = threads->create(sub { ref($job) eq 'WaferMon::Job' ? 'copy' : 'not a handle' })->join;
is($seen, 'not a handle', 'the thread does not get a usable copy of the job handle');
my $thread_job = threads->create(sub {
    my $j = WaferMon::Client::_open({ mode => 'direct', direct_backends => [{ type => 'filesystem', path => "$d/out" }],
                                      spool => { path => "$d/spool-thread" }, sdk => { lang => 'perl', version => $WaferMon::VERSION } })
        ->_start('in-thread', undef, undef);
    $j->succeed;
    return $j->id;
})->join;
$job->succeed;
my @ev = read_events($d);
is(scalar(grep { $_->{business_key} eq 'threaded' } @ev), 2, 'the main thread job is intact');
ok(scalar(grep { $_->{entity_id} eq $thread_job } @ev) >= 1, 'a job made inside a thread arrives');
done_testing;
