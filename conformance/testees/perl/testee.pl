#!/usr/bin/env perl
# The Perl testee of the conformance suite (conformance/PROTOCOL.md): performs a scenario through
# the WaferMon distribution's public API and prints one JSON line per step.
use strict;
use warnings;
use FindBin;
use POSIX ();
use Scalar::Util qw(blessed);
use JSON::PP ();

# WaferMon from the out-of-tree build of scripts/stages/75-perl.sh (build/perl-src/blib), unless
# WAFERMON_PERL_BLIB points elsewhere or it is installed.
BEGIN {
    my $blib = $ENV{WAFERMON_PERL_BLIB} // "$FindBin::Bin/../../../build/perl-src/blib";
    unshift @INC, "$blib/lib", "$blib/arch" if -d "$blib/arch";
}
use WaferMon;

$| = 1;
@ARGV == 1 or die "usage: testee.pl SCENARIO.json\n";
my $json = JSON::PP->new->utf8->canonical->allow_nonref;
my $scenario = do { open my $fh, '<:raw', $ARGV[0] or die "$ARGV[0]: $!\n"; local $/; $json->decode(<$fh>) };
my %jobs;

sub metadata_of {
    my ($step) = @_;
    return $json->decode($step->{metadata_raw}) if defined $step->{metadata_raw};
    return $step->{metadata};
}

sub fork_child {
    my ($step) = @_;
    my $parent = $jobs{ $step->{parent} // '' };
    my $pid = fork // die "fork: $!\n";
    if (!$pid) {
        my $code = eval {
            my $child = $parent->subjob(sub_key => $step->{sub_key});
            $child->succeed;
            WaferMon->flush(10);
            0;
        } // 1;
        POSIX::_exit($code);
    }
    waitpid $pid, 0;
    die "fork child failed with status $?\n" if $?;
    return;
}

sub run_step {
    my ($step) = @_;
    my $op = $step->{op};
    my $md = metadata_of($step);
    my $job = defined $step->{job} ? $jobs{ $step->{job} } : undef;
    if ($op eq 'start' || $op eq 'subjob') {
        my $j = $op eq 'start'
            ? WaferMon->job(business_key => $step->{business_key}, site_id => $step->{site_id}, metadata => $md)
            : ($jobs{ $step->{parent} // '' } // WaferMon::Error::InvalidArgumentError->throw("no job named $step->{parent}"))
                ->subjob(sub_key => $step->{sub_key}, metadata => $md);
        $jobs{ $step->{as} } = $j if defined $step->{as};
        return $j->id;
    }
    if ($op eq 'flush') { WaferMon->flush($step->{timeout} // 10); return }
    if ($op eq 'sleep') { select(undef, undef, undef, $step->{seconds}); return }
    if ($op eq 'fork_child') { fork_child($step); return }
    WaferMon::Error::InvalidArgumentError->throw("no job named " . ($step->{job} // 'null')) unless $job;
    if ($op eq 'progress') { $job->progress($step->{fraction}, $md) }
    elsif ($op eq 'heartbeat') { $job->heartbeat }
    elsif ($op eq 'succeed') { $job->succeed($md) }
    elsif ($op eq 'cancel') { $job->cancel($md) }
    elsif ($op eq 'fail') { $job->fail($step->{error_type}, $step->{error_message}, $md) }
    else { die "unknown op $op\n" }
    return;
}

my @steps = @{ $scenario->{steps} };
for my $i (0 .. $#steps) {
    my %res = (step => $i);
    my $id;
    if (eval { $id = run_step($steps[$i]); 1 }) {
        $res{ok} = JSON::PP::true;
        $res{id} = $id if defined $id;
    } else {
        my $e = $@;
        $res{ok} = JSON::PP::false;
        if (blessed $e && $e->isa('WaferMon::Error')) { @res{qw(error message)} = ($e->name, $e->message) }
        else { @res{qw(error message)} = ('PerlError', "$e" =~ s/\s+\z//r) }
    }
    print $json->encode(\%res), "\n";
}
# Close first: the jobs' scope guards then find the client closed and send nothing more.
my $ok = eval { WaferMon->close(10); 1 };
warn "close: $@" unless $ok;
%jobs = ();
exit($ok ? 0 : 1);
