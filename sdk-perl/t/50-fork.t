use strict;
use warnings;
use Test::More;
use POSIX ();
use lib 't/lib';
use WMTest;
use WaferMon;

my $d = direct_dir();
my $job = WaferMon->job(business_key => 'forked-lot');
pipe(my $r, my $w) or die "pipe: $!";
my $pid = fork // die "fork: $!";
if (!$pid) {
    close $r;
    my @report;
    my $ok = eval {
        my $sub = $job->subjob(sub_key => 'child-1');
        push @report, 'subid=' . $sub->id;
        $sub->succeed;
        1;
    };
    push @report, 'subjob=' . ($ok ? 'ok' : ref $@);
    eval { $job->progress(0.5); 1 } and push @report, 'progress=ok';
    push @report, 'progress=' . (ref($@) || 'none') unless grep { /^progress=ok/ } @report;
    eval { WaferMon->flush(10); 1 } or push @report, 'flush=' . ref $@;
    print {$w} join("\n", @report), "\n";
    close $w;
    POSIX::_exit(0);
}
close $w;
my %child = map { chomp; split /=/, $_, 2 } <$r>;
waitpid $pid, 0;
is($?, 0, 'child exited 0');
is($child{subjob}, 'ok', 'sub-job of the parent job started in the child');
is($child{progress}, 'WaferMon::Error::ForkedError', "the parent's job emit in the child dies with ForkedError");
ok(!exists $child{flush}, 'child flushed');
$job->succeed;

# A child that simply exits (global destruction of the parent's job in the child) finishes nothing.
my $pid2 = fork // die "fork: $!";
if (!$pid2) { exit 0 }
waitpid $pid2, 0;

my @ev = read_events($d);
my @sub = events_of($child{subid}, @ev);
is(kinds(@sub), 'started finished', 'the child sub-job arrives');
is($sub[0]{parent_id}, $job->id, 'with the parent job as parent');
isnt($sub[0]{pid}, $$, 'from the child pid');
is(kinds(events_of($job->id, @ev)), 'started finished', 'the parent job: no event from the children');
done_testing;
