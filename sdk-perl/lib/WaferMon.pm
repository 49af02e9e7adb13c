package WaferMon;

use strict;
use warnings;

our $VERSION = '0.1.0';

require XSLoader;
XSLoader::load('WaferMon', $VERSION);

use Scalar::Util qw(blessed refaddr);
use WaferMon::JSON ();

our $CLIENT;    # the client every job uses; opened on first use or by configure()

# ---- errors: one WaferMon::Error subclass per exception name of the core's status table -------

package WaferMon::Error {
    use overload
        '""'     => sub { $_[0]->as_string },
        'bool'   => sub { 1 },
        fallback => 1;

    sub code    { $_[0]{code} }
    sub name    { $_[0]{name} }
    sub status  { $_[0]{status} }
    sub message { $_[0]{message} }
    sub file    { $_[0]{file} }
    sub line    { $_[0]{line} }

    sub as_string {
        my $self = shift;
        my $where = defined $self->{file} ? " at $self->{file} line $self->{line}.\n" : "\n";
        return "$self->{name}: $self->{message}$where";
    }

    sub throw {
        my ($class, $message) = @_;
        my $name = $class =~ s/.*:://r;
        my $code = $WaferMon::CODE_OF{$name} // 14;
        WaferMon::_throw($code, $message);
    }
}

our (%CODE_OF, @EXCEPTIONS);
for my $row (WaferMon::_status_descs()) {
    my ($code, $cname, $exception) = @$row;
    next if $code == 0;
    $CODE_OF{$exception} = $code;
    push @EXCEPTIONS, $exception;
    no strict 'refs';
    @{"WaferMon::Error::${exception}::ISA"} = ('WaferMon::Error');
}

# ---- client ----------------------------------------------------------------------------------

# WaferMon->configure(%config) or WaferMon->configure(\%config): opens the client every later job
# uses (closing the previous one after a flush). The universal configuration (see wafermon.h);
# sdk.lang / sdk.version are set here. Layers, later wins: defaults < WAFERMON_CONFIG <
# WAFERMON_* variables < this.
sub configure {
    my $class = shift;
    my %config = @_ == 1 && ref $_[0] eq 'HASH' ? %{ $_[0] } : @_;
    $config{sdk} = { lang => 'perl', version => $VERSION };
    my $client = WaferMon::Client::_open(\%config);
    my $old = $CLIENT;
    $CLIENT = $client;
    eval { $old->close(10) } if $old;
    return $client;
}

sub WaferMon::Client::CLONE_SKIP { 1 }

sub client {
    $CLIENT //= do { WaferMon->configure(); $CLIENT };
    return $CLIENT;
}

sub flush { my (undef, $timeout) = @_; WaferMon->client->flush($timeout // 10); return 1 }
sub stats { WaferMon->client->stats }

# WaferMon::to_json($data, $what = 'value'): the metadata serialiser (see WaferMon::JSON).
sub to_json { my ($x, $what) = @_; return WaferMon::JSON::encode($x, $what // 'value') }

sub close {
    my (undef, $timeout) = @_;
    my $old = $CLIENT;
    undef $CLIENT;
    $old->close($timeout // 10) if $old;
    return 1;
}

# ---- jobs ------------------------------------------------------------------------------------

# WaferMon->job(business_key => ..., site_id => ..., metadata => {...}) and
# $job->subjob(sub_key => ..., metadata => {...}) are XS (WaferMon.xs): they read the argument list
# without building a hash, and refuse unknown names with InvalidArgumentError.

# WaferMon->run_job(sub { my $job = shift; ... }, %args): succeeded when the sub returns, failed
# (then the exception is re-thrown unchanged) when it dies. Returns what the sub returns.
sub run_job {
    my ($class, $code, @args) = @_;
    return WaferMon::Job::_run($class->job(@args), $code);
}

package WaferMon::Job;

use Scalar::Util qw(blessed refaddr);

# A new ithread gets undef instead of a copy of the handle: one owner per C handle.
sub CLONE_SKIP { 1 }

sub run_subjob {
    my ($self, $code, @args) = @_;
    return _run($self->subjob(@args), $code);
}

# $job->fail($type, $message, \%metadata), or $job->fail($exception) for an error object / $@.
sub fail {
    my ($self, $type, $message, $metadata) = @_;
    ($type, $message) = _error_of($type) if @_ == 2 || (ref $type && !defined $message);
    $self->_fail($type, $message, $metadata);
    return;
}

# (type, message) of an exception: its class for objects (WaferMon errors: their name), "die" for
# a plain string; the message without the trailing newline.
sub _error_of {
    my ($err) = @_;
    if (blessed $err) {
        return ($err->name, $err->message) if $err->isa('WaferMon::Error');
        my $msg = $err->can('message') ? $err->message : "$err";
        return (ref $err, defined $msg ? "$msg" =~ s/\n\z//r : undef);
    }
    return ('die', defined $err ? "$err" =~ s/\n\z//r : undef);
}

sub _run {
    my ($job, $code) = @_;
    my $want = wantarray;
    my @r;
    my $ok = eval {
        if ($want) { @r = $code->($job) }
        elsif (defined $want) { $r[0] = $code->($job) }
        else { $code->($job) }
        1;
    };
    if (!$ok) {
        my $err = $@;
        unless ($job->is_finished) {
            local $@;
            eval { $job->fail($err); 1 } or warn "wafermon: could not report the failure: $@";
        }
        die $err;
    }
    $job->succeed unless $job->is_finished;
    return $want ? @r : $r[0];
}

# The scope guard. A job still running when its last reference goes away is finished here:
#  - leaving by die caught by an enclosing eval: failed with the exception. Perl sets $@ before it
#    unwinds, so DESTROY sees it; it counts when it differs from $@ at the job's creation and an
#    eval frame is on the call stack to catch it (so $@ left over by an eval handled *inside* the
#    scope, at a level with no enclosing eval, is not mistaken for a failure);
#  - leaving by an uncaught die or exit(N) (perl unwinds with $? in 1..255): failed, type 'exit';
#  - at global destruction: failed if $? != 0, else succeeded;
#  - otherwise (normal scope exit, return, last, undef $job): succeeded.
# WaferMon->run_job / $job->run_subjob decide exactly; use them when in doubt.
# In a child process, a job of the parent is only freed (the parent finishes it).
# WaferMon::Job::DESTROY (XS) frees a finished job, or a job of another process, at once and
# calls this for a job still running in the process that started it.
sub _guard_destroy {
    my $self = shift;
    my ($err, $status) = ($@, $?);
    my ($alive, $pid, $snap_err, $snap_status, $finished) = $self->_guard_state;
    return unless $alive;
    if ($pid == $$ && !$finished) {
        my $catcher = _enclosing_eval();
        local ($@, $?, $!);
        my $ok = eval {
            if (${^GLOBAL_PHASE} eq 'DESTRUCT') {
                if ($status) { $self->_fail('exit', "process exiting with status $status", undef) }
                else { $self->succeed }
            }
            elsif ($catcher && _is_new_error($err, $snap_err)) {
                $self->fail($err);
            }
            elsif (!$catcher && $status > 0 && $status < 256 && $status != $snap_status) {
                # perl unwinding for an uncaught die (status errno or 255) or exit(N): a child's
                # status from system() is N << 8 and so never in this range unless signalled.
                $self->_fail('exit', "perl is exiting with status $status (an uncaught die or exit)", undef);
            }
            else {
                $self->succeed;
            }
            1;
        };
        warn "wafermon: could not finish job in DESTROY: $@"
            unless $ok || (ref $@ && $@->isa('WaferMon::Error::ClosedError'));
    }
    $self->release;
}

# True when an eval (block or string, not require) is on the call stack above DESTROY's own
# G_EVAL frame: only then can an exception be on its way to being caught.
sub _enclosing_eval {
    # 0: this sub, 1: _guard_destroy (called by the XS DESTROY, which has no frame of its own),
    # 2: the (eval) frame perl pushes to call DESTROY
    for (my $i = 3; my @f = caller($i); $i++) {
        return 1 if $f[3] eq '(eval)' && !$f[7];
    }
    return 0;
}

sub _is_new_error {
    my ($err, $snap) = @_;
    return 0 unless defined $err && (ref $err || length $err);
    return 1 unless defined $snap && (ref $snap || length $snap);
    return ref $err ? !(ref $snap && refaddr($err) == refaddr($snap)) : (ref $snap || $err ne $snap);
}

1;

__END__

=head1 NAME

WaferMon - job monitoring for batch work, over the libwafermon C core

=head1 SYNOPSIS

    use WaferMon;
    WaferMon->configure(mode => 'direct',
                        direct_backends => [{ type => 'filesystem', path => '/tmp/wm' }]);
    {
        my $job = WaferMon->job(business_key => 'lot-42', site_id => 'fab1');
        $job->progress(0.5, { step => 'etch' });
        my $wafer = $job->subjob(sub_key => 'w-01');
        $wafer->succeed;
    }   # leaving the scope finishes the job: succeeded, or failed when leaving by die

    WaferMon->run_job(sub { my $job = shift; ... }, business_key => 'lot-43');

See F<README.md> for the full description.

=cut
