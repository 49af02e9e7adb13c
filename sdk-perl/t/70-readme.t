use strict;
use warnings;
use Test::More;
use File::Spec;
use FindBin;

# Runs the example of README.md (and docs/perl.md, when the repository is around) verbatim.
my $src = $ENV{WAFERMON_PERL_SOURCE} // File::Spec->catdir($FindBin::Bin, File::Spec->updir);
for my $doc ("$src/README.md", "$src/../docs/perl.md") {
    SKIP: {
        skip "$doc not found (set WAFERMON_PERL_SOURCE to sdk-perl/)", 3 unless -f $doc;
        open my $fh, '<:utf8', $doc or die "$doc: $!";
        my $text = do { local $/; <$fh> };
        my ($code) = $text =~ /^```perl\n(.*?)^```$/ms;
        ok($code, "$doc has a perl example");
        my $script = File::Spec->catfile(File::Spec->tmpdir, "wafermon-readme-$$.pl");
        open my $out, '>:utf8', $script or die $!;
        print {$out} $code, "\nprint scalar(grep { /finished/ } map { open my \$f, '<', \$_; <\$f> } glob \"\$dir/events/*.jsonl\"), \" finished\\n\";\n";
        close $out;
        my $got = `$^X ${\ join ' ', map { "-I$_" } @INC} $script 2>&1`;
        unlink $script;
        is($?, 0, "$doc example exits 0") or diag $got;
        is($got, "job failed: chamber 3 offline\nWaferMon::Error::MetadataError: metadata: value at \"callback\" is a CODE reference, which cannot be serialised to JSON (only hash and array references, \\1 and \\0)\n6 finished\n",
           "$doc example output");
    }
}
done_testing;
