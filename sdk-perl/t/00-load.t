use strict;
use warnings;
use Test::More;

use_ok('WaferMon');
is(WaferMon::core_version(), '0.1.0', 'core version');
like($WaferMon::VERSION, qr/^\d+\.\d+\.\d+$/, 'sdk version');
for my $exc (qw(InvalidArgumentError ConfigError EncodingError MetadataError TooLargeError
                ClosedError StateError TimeoutError IOError ForkedError InternalError)) {
    ok("WaferMon::Error::$exc"->isa('WaferMon::Error'), "WaferMon::Error::$exc from the status table");
}
{ no warnings 'once'; is($WaferMon::CODE_OF{MetadataError}, 4, 'codes come from the C table'); }
done_testing;
