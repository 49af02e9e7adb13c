use strict;
use warnings;
use utf8;
use Test::More;
use lib 't/lib';
use WMTest;
use WaferMon;
use JSON::PP ();

my $d = direct_dir();
my $md = {
    u      => "wafer é漢字 😀",
    bytes  => "caf\xe9",
    q      => "a\"b\\c\nd\te\x01",
    nested => { a => { b => { c => [1, { d => undef }] } } },
    bools  => [\1, \0, JSON::PP::true, JSON::PP::false],
    num    => 0.1,
    neg    => -2.5e-10,
    int    => 42,
    big    => 'x' x 50000,
    strnum => '007',
    empty  => {},
    list   => [],
};
my $job = WaferMon->job(metadata => $md);
$job->succeed;
my ($got) = events_of($job->id, read_events($d));
$got = $got->{metadata};
is($got->{u}, $md->{u}, 'unicode round trip');
is($got->{bytes}, "caf\x{e9}", 'byte strings taken as Latin-1');
is($got->{q}, $md->{q}, 'escapes');
is_deeply($got->{nested}, $md->{nested}, 'nesting');
is_deeply([map { $_ ? 1 : 0 } @{ $got->{bools} }], [1, 0, 1, 0], 'booleans');
ok(JSON::PP::is_bool($got->{bools}[0]), 'true is a JSON boolean');
is($got->{num}, 0.1, 'double');
is($got->{neg}, -2.5e-10, 'small double');
is($got->{int}, 42, 'integer');
is(length $got->{big}, 50000, 'large value');
is($got->{strnum}, '007', 'strings stay strings');
is_deeply($got->{empty}, {}, 'empty hash');
is_deeply($got->{list}, [], 'empty array');
is(WaferMon::to_json({ b => 1, a => [1, 'x'] }), '{"a":[1,"x"],"b":1}', 'to_json: sorted keys');
is(WaferMon::to_json(undef, 'metadata'), undef, 'undef metadata is none');

# What JSON::PP alone would do differently, kept as before: a float keeps the digits that give it
# back, and a number last used as a string is a string.
my $n = 42;
my $interpolated = "$n";
is(WaferMon::to_json({ p => 0.1 + 0.2, third => 1 / 3, n => $n }), '{"n":"42","p":0.30000000000000004,"third":0.33333333333333331}',
   'to_json: 17 digits where 15 lose the value; a stringified number is a string');
is(WaferMon::to_json({ num => 0.1, big => 1e300, int => -7 }), '{"big":1e+300,"int":-7,"num":0.1}', 'to_json: short forms stay short');
done_testing;
