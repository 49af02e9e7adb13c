package WaferMon::JSON;

# Perl data -> JSON text for metadata and configuration: JSON::PP writes it (sorted keys, so the
# same data gives the same JSON); the walk below first refuses what JSON cannot carry, with an
# error naming the key path.
#
# hash ref -> object; array ref -> array; undef -> null; JSON::PP::true/false, \1 and \0 -> true /
# false; a string -> string (character strings as they are, byte strings as Latin-1; a number
# last used as a string is a string, as in JSON::XS); a number -> number (NaN and infinities are refused; a float is written with 15 significant digits, or 17
# when 15 do not give it back). Objects, code, globs and other references are refused with a
# MetadataError (ConfigError for configuration) naming the key.

use strict;
use warnings;

use B ();
use JSON::PP ();
use Scalar::Util qw(blessed reftype);

use constant MAX_DEPTH => 64;
use constant { WM_E_CONFIG => 2, WM_E_METADATA => 4 };

# JSON::PP as JSON::XS decides a scalar's type: last used as a string (its string flag set) ->
# a string, even when it also holds a number. And JSON::PP writes a float as Perl stringifies it
# (15 significant digits): here one that needs 17 to come back unchanged keeps them.
package WaferMon::JSON::Writer {
    our @ISA = ('JSON::PP');

    sub value_to_json {
        my ($self, $value) = @_;
        if (defined $value && !ref $value) {
            my $flags = B::svref_2object(\$value)->FLAGS;
            return $self->string_to_json($value) if $flags & B::SVp_POK;
            if ($flags & B::SVp_NOK && !($flags & B::SVp_IOK)) {
                my $short = sprintf '%.15g', $value;
                return $short == $value ? $short : sprintf '%.17g', $value;
            }
        }
        return $self->SUPER::value_to_json($value);
    }
}

my $WRITER = WaferMon::JSON::Writer->new->canonical->allow_nonref;

# True for a scalar Perl holds as a number (integer or float flags), whatever else it holds.
sub _numeric { B::svref_2object(\$_[0])->FLAGS & (B::SVp_IOK | B::SVp_NOK) }

# The first problem in $x as the text of the error, or undef when JSON can carry it all.
sub _problem {
    my ($x, $path, $depth) = @_;
    my $at = length $path ? qq{value at "$path"} : 'the value';
    return "$at is nested more than 64 levels deep" if $depth > MAX_DEPTH;
    return undef unless defined $x;
    if (my $class = blessed $x) {
        return undef if $x->isa('JSON::PP::Boolean');
        return "$at is a $class object, which cannot be serialised to JSON: pass plain data";
    }
    my $type = reftype $x;
    if (!defined $type) {
        return "$at is a glob, which cannot be serialised to JSON" if ref \$x eq 'GLOB';
        return "$at is NaN or infinite, which JSON cannot hold"
            if _numeric($x) && ($x != $x || $x * 0 != 0);
        return undef;
    }
    if ($type eq 'HASH') {
        for my $k (sort keys %$x) {
            my $p = _problem($x->{$k}, length $path ? "$path.$k" : $k, $depth + 1);
            return $p if defined $p;
        }
        return undef;
    }
    if ($type eq 'ARRAY') {
        for my $i (0 .. $#$x) {
            my $p = _problem($x->[$i], "${path}[$i]", $depth + 1);
            return $p if defined $p;
        }
        return undef;
    }
    return undef if $type eq 'SCALAR' && defined $$x && !ref $$x && ($$x eq '1' || $$x eq '0');
    return "$at is a $type reference, which cannot be serialised to JSON "
        . '(only hash and array references, \1 and \0)';
}

# encode($x, $what): $what = "metadata" (undef -> undef; must be a hash ref) or "config" (the same,
# errors are ConfigError) or "value" (anything JSON can carry). Returns a character string.
sub encode {
    my ($x, $what) = @_;
    my $code = $what eq 'config' ? WM_E_CONFIG : WM_E_METADATA;
    if ($what ne 'value') {
        return undef unless defined $x;
        if (!(ref $x eq 'HASH')) {
            my $got = !ref $x ? 'a plain scalar' : blessed $x ? 'an object' : reftype $x;
            WaferMon::_throw($code, "$what must be a JSON object: a hash reference such as "
                . "{ step => 'etch' }, got $got");
        }
    }
    my $problem = _problem($x, '', 0);
    WaferMon::_throw($code, "$what: $problem") if defined $problem;
    return $WRITER->encode($x);
}

1;
