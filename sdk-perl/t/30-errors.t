use strict;
use warnings;
use Test::More;
use lib 't/lib';
use WMTest;
use WaferMon;

my $d = direct_dir();

sub err_of { my ($code) = @_; local $@; eval { $code->(); 1 } and return undef; return $@ }

my $job = WaferMon->job;
$job->succeed;
my $e = err_of(sub { $job->heartbeat });
isa_ok($e, 'WaferMon::Error::StateError');
isa_ok($e, 'WaferMon::Error');
is($e->code, 8, 'code');
is($e->name, 'StateError', 'name');
is($e->status, 'WM_E_STATE', 'C status name');
like($e->message, qr/already finished/, 'message');
like("$e", qr/^StateError: .*already finished at \Q$0\E line \d+\.\n\z/, 'stringifies with the caller location');
isa_ok(err_of(sub { $job->succeed }), 'WaferMon::Error::StateError');
isa_ok(err_of(sub { WaferMon->job->progress(1.5) }), 'WaferMon::Error::InvalidArgumentError');

# metadata
isa_ok(err_of(sub { WaferMon->job(metadata => [1, 2]) }), 'WaferMon::Error::MetadataError');
isa_ok(err_of(sub { WaferMon->job(metadata => 'text') }), 'WaferMon::Error::MetadataError');
isa_ok(err_of(sub { WaferMon->job(metadata => 3) }), 'WaferMon::Error::MetadataError');
$e = err_of(sub { WaferMon->job(metadata => { ok => 1, bad => { fn => sub { } } }) });
isa_ok($e, 'WaferMon::Error::MetadataError');
like($e->message, qr/"bad\.fn" is a CODE reference/, 'names the key path');
like(err_of(sub { WaferMon->job(metadata => { l => [1, \*STDOUT] }) })->message, qr/"l\[1\]" is a GLOB reference/, 'array index in the path');
like(err_of(sub { WaferMon->job(metadata => { o => bless {}, 'Foo' }) })->message, qr/"o" is a Foo object/, 'objects refused');
like(err_of(sub { WaferMon->job(metadata => { x => 9**9**9 }) })->message, qr/"x" is NaN or infinite/, 'infinity refused');
isa_ok(err_of(sub { WaferMon->job(metadata => { x => 'y' x 70000 }) }), 'WaferMon::Error::TooLargeError');
isa_ok(err_of(sub { WaferMon->job(colour => 'red') }), 'WaferMon::Error::InvalidArgumentError');
like(err_of(sub { WaferMon->job(colour => 'red') })->message, qr/unknown argument "colour" \(known: business_key site_id metadata monitor\)/, 'names the argument');
like(err_of(sub { WaferMon->job->subjob('wafer-1') })->message, qr/name => value pairs/, 'odd argument list');
like(err_of(sub { WaferMon->job->subjob(sub_key => 'w', key => 1) })->message, qr/unknown argument "key"/, 'subjob: unknown argument');

# configuration: restore the direct client afterwards
$e = err_of(sub { WaferMon->configure(mode => 'carrier-pigeon') });
isa_ok($e, 'WaferMon::Error::ConfigError');
like($e->message, qr/mode/, 'names the key');
like(err_of(sub { WaferMon->configure(nonsense => 1) })->message, qr/nonsense/, 'unknown key');
like(err_of(sub { WaferMon->configure(batch_size => sub { }) })->message, qr/batch_size/, 'bad value names the key');

# handles: class and liveness, one fatal check
my $j = WaferMon->job;
$j->release;
$e = err_of(sub { $j->heartbeat });
isa_ok($e, 'WaferMon::Error::ClosedError');
is($e->message, 'handle is closed', 'handle is closed');
$j->release;    # idempotent
like(err_of(sub { WaferMon::Job::heartbeat(bless {}, 'Other') })->message, qr/expected a WaferMon::Job object/, 'wrong class');
like(err_of(sub { WaferMon::Job::heartbeat('string') })->message, qr/expected a WaferMon::Job object/, 'not a ref');

# a closed client: jobs report ClosedError; a new client takes over
my $k = WaferMon->job;
WaferMon->close;
isa_ok(err_of(sub { $k->heartbeat }), 'WaferMon::Error::ClosedError');
undef $k;    # DESTROY after the client closed: no crash, nothing sent
my $d2 = direct_dir();
my $n = WaferMon->job(business_key => 'after');
$n->succeed;
is(kinds(events_of($n->id, read_events($d2))), 'started finished', 'new client works');

# user code can throw the same classes
isa_ok(err_of(sub { WaferMon::Error::ConfigError->throw('mine') }), 'WaferMon::Error::ConfigError');
done_testing;
