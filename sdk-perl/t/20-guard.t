use strict;
use warnings;
use Test::More;
use lib 't/lib';
use WMTest;
use WaferMon;

my $d = direct_dir();
my %id;

sub status_of {
    my ($id, @ev) = @_;
    my ($fin) = grep { $_->{event_kind} eq 'finished' } events_of($id, @ev);
    return $fin;
}

{   # leaving the scope normally: succeeded
    my $job = WaferMon->job(business_key => 'normal');
    $id{normal} = $job->id;
}
eval {   # leaving by die: failed with the exception
    my $job = WaferMon->job(business_key => 'die');
    $id{die} = $job->id;
    die "wafer cracked\n";
};
is($@, "wafer cracked\n", 'the exception propagates unchanged');
{   # $@ left over from an earlier eval does not fail a later job
    my $job = WaferMon->job(business_key => 'stale');
    $id{stale} = $job->id;
}
eval {   # an exception object
    my $job = WaferMon->job(business_key => 'object');
    $id{object} = $job->id;
    die bless({ message => 'etch chamber down' }, 'My::Error');
};
isa_ok($@, 'My::Error');
sub My::Error::message { $_[0]{message} }
eval {   # the same message twice in a row is still a failure (eval clears $@ on entry)
    my $job = WaferMon->job(business_key => 'die-again');
    $id{die_again} = $job->id;
    die "wafer cracked\n";
};
{   # finishing explicitly wins over the guard
    my $job = WaferMon->job(business_key => 'explicit');
    $id{explicit} = $job->id;
    $job->cancel;
}
{   # undef $job finishes it at once
    my $job = WaferMon->job(business_key => 'undef');
    $id{undef} = $job->id;
    undef $job;
}
{   # an exception caught inside the scope (no eval around it) does not fail the job
    my $job = WaferMon->job(business_key => 'caught-inside');
    $id{caught_inside} = $job->id;
    eval { die "handled\n" };
}
{   # nor does a child's exit status from system()
    my $job = WaferMon->job(business_key => 'system');
    $id{system} = $job->id;
    system($^X, '-e', 'exit 3');
}
sub early { my $job = WaferMon->job(business_key => 'return'); $id{return} = $job->id; return 7 }
is(early(), 7, 'return out of the scope');

# run_job: exact semantics, returns the value, re-throws unchanged
is(WaferMon->run_job(sub { $id{run_ok} = $_[0]->id; 'v' }, business_key => 'run-ok'), 'v', 'run_job value');
my @list = WaferMon->run_job(sub { (1, 2, 3) });
is_deeply(\@list, [1, 2, 3], 'run_job list context');
my $err = do { local $@; eval { WaferMon->run_job(sub { $id{run_die} = $_[0]->id; die "no wafer\n" }); 1 }; $@ };
is($err, "no wafer\n", 'run_job re-throws');
WaferMon->run_job(sub {
    my $job = shift;
    $id{run_parent} = $job->id;
    eval { $job->run_subjob(sub { $id{run_sub} = $_[0]->id; die "sub failed\n" }, sub_key => 'w1') };
    # the parent continues: an exception handled inside does not fail it
});

my @ev = read_events($d);
is(status_of($id{normal}, @ev)->{status}, 'succeeded', 'normal exit: succeeded');
my $die = status_of($id{die}, @ev);
is($die->{status}, 'failed', 'die: failed');
is_deeply($die->{error}, { type => 'die', message => 'wafer cracked' }, 'die: error');
is(status_of($id{stale}, @ev)->{status}, 'succeeded', 'stale $@: succeeded');
is_deeply(status_of($id{object}, @ev)->{error}, { type => 'My::Error', message => 'etch chamber down' },
    'exception object: class and message');
is(status_of($id{die_again}, @ev)->{status}, 'failed', 'same message again: failed');
is(status_of($id{explicit}, @ev)->{status}, 'cancelled', 'explicit finish kept');
is(status_of($id{undef}, @ev)->{status}, 'succeeded', 'undef $job: succeeded');
is(status_of($id{return}, @ev)->{status}, 'succeeded', 'return: succeeded');
is(status_of($id{caught_inside}, @ev)->{status}, 'succeeded', 'caught inside: succeeded');
is(status_of($id{system}, @ev)->{status}, 'succeeded', 'system() status: succeeded');
is(status_of($id{run_ok}, @ev)->{status}, 'succeeded', 'run_job: succeeded');
is(status_of($id{run_die}, @ev)->{status}, 'failed', 'run_job die: failed');
is(status_of($id{run_sub}, @ev)->{status}, 'failed', 'run_subjob die: failed');
is(status_of($id{run_parent}, @ev)->{status}, 'succeeded', 'handled inside: parent succeeded');

# Leaving by an uncaught die at top level, and a job alive at global destruction, in a child perl.
sub run_script {
    my ($code) = @_;
    my $out = "$d/script-" . int(rand(1e9));
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDERR, '>', '/dev/null';
        exec $^X, (map { "-I$_" } @INC), '-e', $code, $d, $out;
        exit 127;
    }
    waitpid $pid, 0;
    return ($? >> 8, $out);
}
my $script = q{
    use WaferMon; use WMTest;
    my ($d, $out) = @ARGV;
    WaferMon->configure(mode => 'direct', direct_backends => [{ type => 'filesystem', path => "$d/out" }],
                        spool => { path => "$d/spool-$$" });
};
my ($rc) = run_script($script . q{
    my $job = WaferMon->job(business_key => 'toplevel-die');
    die "uncaught\n";
});
isnt($rc, 0, 'the child died');
($rc) = run_script($script . q{
    our $job = WaferMon->job(business_key => 'global-ok');
    exit 0;
});
is($rc, 0, 'the child exited');
($rc) = run_script($script . q{
    our $job = WaferMon->job(business_key => 'global-exit-3');
    exit 3;
});
@ev = read_events($d);
my %by_key = map { ($_->{business_key} // '') . ':' . $_->{event_kind} => $_ } @ev;
is($by_key{'toplevel-die:finished'}{status}, 'failed', 'uncaught die at top level: failed');
is($by_key{'global-ok:finished'}{status}, 'succeeded', 'global destruction, exit 0: succeeded');
is($by_key{'global-exit-3:finished'}{status}, 'failed', 'global destruction, exit 3: failed');
is($by_key{'global-exit-3:finished'}{error}{type}, 'exit', 'global destruction: error type exit');
done_testing;
