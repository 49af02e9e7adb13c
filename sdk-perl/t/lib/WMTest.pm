package WMTest;
# Test helpers: a direct filesystem backend in a temp dir, and reading its events back.
use strict;
use warnings;
use Exporter 'import';
use File::Temp qw(tempdir);
use JSON::PP ();
use WaferMon;

our @EXPORT = qw(direct_dir read_events events_of kinds);

sub direct_dir {
    my $d = tempdir('wafermon-perl-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    WaferMon->configure(
        mode            => 'direct',
        direct_backends => [{ type => 'filesystem', path => "$d/out" }],
        spool           => { path => "$d/spool" },
        app             => { name => 'perl-tests', site_id => 'fab-test' },
        flush_interval  => 0.05,
    );
    return $d;
}

sub read_events {
    my ($d) = @_;
    WaferMon->flush(10);
    my @events;
    for my $f (sort glob "$d/out/*.jsonl") {
        open my $fh, '<:raw', $f or die "$f: $!";
        push @events, map { JSON::PP->new->utf8->decode($_) } grep { /\S/ } <$fh>;
    }
    return @events;
}

sub events_of { my ($id, @events) = @_; return grep { $_->{entity_id} eq $id } @events }
sub kinds { return join ' ', map { $_->{event_kind} } @_ }

1;
