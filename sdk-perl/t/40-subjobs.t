use strict;
use warnings;
use Test::More;
use lib 't/lib';
use WMTest;
use WaferMon;

my $d = direct_dir();
my (%id);
{
    my $lot = WaferMon->job(business_key => 'lot-9', site_id => 'fab3');
    $id{lot} = $lot->id;
    {
        my $wafer = $lot->subjob(sub_key => 'wafer-1', metadata => { slot => 4 });
        $id{wafer} = $wafer->id;
        {
            my $die = $wafer->subjob(sub_key => 'die-1');
            $id{die} = $die->id;
            my $site = $die->subjob(sub_key => 'site-1');
            $id{site} = $site->id;
            $site->progress(1);
        }
        eval { my $bad = $wafer->subjob(sub_key => 'die-2'); $id{bad} = $bad->id; die "probe failed\n" };
    }
}
my @ev = read_events($d);
my ($w) = events_of($id{wafer}, @ev);
is($w->{parent_id}, $id{lot}, 'wafer under lot');
is($w->{entity_type}, 'subjob', 'subjob entity');
is($w->{sub_key}, 'wafer-1', 'sub_key');
is($w->{business_key}, 'lot-9', 'business key inherited');
is($w->{site_id}, 'fab3', 'site inherited');
is_deeply($w->{metadata}, { slot => 4 }, 'subjob metadata');
is((events_of($id{die}, @ev))[0]{parent_id}, $id{wafer}, 'die under wafer');
is((events_of($id{site}, @ev))[0]{parent_id}, $id{die}, 'site under die: three deep');
is(kinds(events_of($id{site}, @ev)), 'started progress finished', 'leaf events');
my ($bad) = grep { $_->{event_kind} eq 'finished' } events_of($id{bad}, @ev);
is($bad->{status}, 'failed', 'sub-job left by die: failed');
for my $k (qw(lot wafer die site)) {
    my ($fin) = grep { $_->{event_kind} eq 'finished' } events_of($id{$k}, @ev);
    is($fin->{status}, 'succeeded', "$k succeeded");
}
done_testing;
