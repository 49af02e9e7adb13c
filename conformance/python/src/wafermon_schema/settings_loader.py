"""One settings loader for the wafermon services (sidecar and gateway).

A service describes its settings as a msgspec Struct tree and a `SettingsSpec`; `load_settings`
then builds them, lowest precedence first, from:

1. the field defaults;
2. a file, read by its extension: `.json`, `.yaml`/`.yml` or `.toml` (a file may nest everything
   under one table named after the service, e.g. `[gateway]`, so one file can serve several);
3. environment variables, by one rule derived from the fields: the prefix, then the field path
   upper-cased and joined by `_` (`ingest.port` → `WAFERMON_SIDECAR_INGEST_PORT`). A scalar field
   takes the text as it is (`"17005"` becomes the int 17005); a list, mapping or section takes JSON.
   A service may keep a few documented older names as aliases (a derived name wins over an alias);
4. the command line (`overrides`, dotted paths; None means "not given").

`${NAME}` (or `${NAME:-default}`) inside any string is replaced by that environment variable, so
secrets stay out of files. Every error is a `SettingsError` that names where the value came from
(the file or the variable), the key path, and what is wrong.
"""

from __future__ import annotations

import copy
import json
import os
import re
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Annotated, Any, Generic, TypeVar

import msgspec
import yaml

S = TypeVar("S", bound=msgspec.Struct)

# Shared value shapes, so a range is declared once next to its field.
Positive = Annotated[float, msgspec.Meta(gt=0)]
NonNegative = Annotated[float, msgspec.Meta(ge=0)]
AtLeastOne = Annotated[int, msgspec.Meta(ge=1)]
Port = Annotated[int, msgspec.Meta(ge=0, le=65535)]

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_FORMATS = {".json": "JSON", ".yaml": "YAML", ".yml": "YAML", ".toml": "TOML"}


class SettingsError(ValueError):
    """The settings cannot be used. The message names the source (file or variable), the key path and
    what is wrong, in our words. `key` is the dotted key path when one is known."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


DecHook = Callable[[type, Any], Any]


@dataclass(frozen=True)
class SettingsSpec(Generic[S]):
    """How one service's settings are built: the root Struct type, the environment prefix (e.g.
    `WAFERMON_GATEWAY_`), documented alias variables (name → dotted key path), the optional table a
    file may nest everything under, a msgspec dec_hook for field types msgspec does not know, and the
    format of a file whose extension names none."""

    root: type[S]
    env_prefix: str
    aliases: Mapping[str, str] = field(default_factory=dict)
    section: str | None = None
    dec_hook: DecHook | None = None
    default_format: str | None = None  # "JSON", "YAML" or "TOML" for other extensions; None: refuse them

    def env_names(self) -> dict[str, str]:
        """Every environment variable this spec reads → its dotted key path (aliases first, so that
        applying them in order lets a derived name win). Raises SettingsError on a name clash."""
        derived: dict[str, str] = {}
        for path in _field_paths(self.root):
            name = self.env_prefix + path.replace(".", "_").upper()
            if name in derived or name in self.aliases:
                raise SettingsError(f"{name} would name both {derived.get(name, self.aliases.get(name))} and {path}")
            derived[name] = path
        return {**self.aliases, **derived}


def read_document(path: Path, section: str | None = None, default_format: str | None = None) -> dict[str, Any]:
    """The mapping in a JSON, YAML or TOML file (chosen by its extension, else `default_format`; an
    empty file is {}). Raises SettingsError naming the file when it cannot be read or parsed."""
    fmt = _FORMATS.get(path.suffix.lower(), default_format)
    if fmt is None:
        raise SettingsError(f"{path}: unknown settings file type {path.suffix!r}; use .json, .yaml, .yml or .toml")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise SettingsError(f"cannot read config file {path}: {reason}") from None
    try:
        doc: Any = json.loads(text) if fmt == "JSON" else yaml.safe_load(text) if fmt == "YAML" else tomllib.loads(text)
    except (json.JSONDecodeError, yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"{path}: not valid {fmt}: {_parse_problem(exc)}") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise SettingsError(f"{path}: the settings must be a mapping (table/object) at the top level")
    if section is not None and section in doc:
        if not isinstance(doc[section], dict):
            raise SettingsError(f"{path}: {section}: must be a mapping (table/object)", section)
        return dict(doc[section])
    return doc


def expand_env_refs(value: Any, environ: Mapping[str, str], key: str = "") -> Any:
    """Replace `${NAME}` / `${NAME:-default}` in every string of a loaded document. Raises
    SettingsError naming the key when NAME is not set and there is no default."""
    if isinstance(value, str):

        def repl(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in environ:
                return environ[name]
            if default is not None:
                return default
            raise SettingsError(
                f"{key or 'settings'}: refers to ${{{name}}} but that environment variable is not set", key
            )

        return _ENV_REF.sub(repl, value)
    if isinstance(value, dict):
        return {k: expand_env_refs(v, environ, _join(key, str(k))) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env_refs(v, environ, f"{key}[{i}]") for i, v in enumerate(value)]
    return value


def load_settings(
    spec: SettingsSpec[S],
    path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    check: Callable[[S], None] | None = None,
) -> S:
    """Settings from the file at `path` (or none), the environment and the command line; see the
    module docstring. `check` runs the service's own cross-field rules on the typed result; a
    SettingsError it raises with a `key` gets the key's source prefixed. Raises SettingsError."""
    doc = read_document(path, spec.section, spec.default_format) if path is not None else {}
    return build_settings(spec, doc, environ, overrides, check, source=str(path) if path is not None else None)


def build_settings(
    spec: SettingsSpec[S],
    doc: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    check: Callable[[S], None] | None = None,
    source: str | None = None,
) -> S:
    """As load_settings, from an already-read document; `source` names it in messages."""
    env = os.environ if environ is None else environ
    merged: dict[str, Any] = copy.deepcopy(dict(doc))  # ours to change
    origins: dict[str, str] = {}
    # A section set as JSON comes before its own fields; an alias before the derived name of its key.
    for name, key in sorted(spec.env_names().items(), key=lambda item: item[1].count(".")):
        if name in env:
            _put(merged, key, _env_value(spec.root, key, name, env[name]))
            origins[key] = name
    for key, value in (overrides or {}).items():
        if value is not None:
            _put(merged, key, value)
            origins[key] = "command line"
    where = _Sources(source, origins)
    try:
        merged = expand_env_refs(merged, env)
        settings = msgspec.convert(merged, spec.root, strict=False, dec_hook=_with_paths(spec.dec_hook))
        if check is not None:
            check(settings)
    except SettingsError as exc:
        raise where.name(exc) from None
    except msgspec.ValidationError as exc:
        raise where.name(describe_validation_error(exc, spec.root)) from None
    return settings


class _Sources:
    """Which source a key path came from: a variable or the command line when they set it (or a
    section above it), else the file."""

    def __init__(self, file: str | None, origins: Mapping[str, str]) -> None:
        self.file, self.origins = file, origins

    def of(self, key: str) -> str | None:
        parts = re.split(r"\.|(?=\[)", key)
        for end in range(len(parts), 0, -1):
            prefix = ".".join(parts[:end]).replace(".[", "[")
            if prefix in self.origins:
                return self.origins[prefix]
        return self.file

    def name(self, exc: SettingsError) -> SettingsError:
        origin = self.of(exc.key) if exc.key is not None else self.file
        if origin is None or str(exc).startswith(origin):
            return exc
        return SettingsError(f"{origin}: {exc}", exc.key)


def _with_paths(hook: DecHook | None) -> DecHook:
    """The service's dec_hook, plus file-system paths (msgspec has no Path type of its own)."""

    def dec_hook(tp: type, value: Any) -> Any:
        if isinstance(tp, type) and issubclass(tp, PurePath):
            if isinstance(value, str | PurePath):
                return tp(value)
            raise SettingsError(f"must be a file-system path (text), not {type(value).__name__}")
        if hook is None:
            raise NotImplementedError(tp)
        return hook(tp, value)

    return dec_hook


def describe_validation_error(exc: msgspec.ValidationError, root: type) -> SettingsError:
    """msgspec's finding, re-worded: `<key path>: <what is wrong>`. A dec_hook may raise a
    SettingsError whose `key` is relative to the value it was given; it is appended to the path."""
    text = str(exc)
    at = re.search(r" - at `\$(?P<path>[^`]*)`$", text)
    path = at.group("path").lstrip(".") if at else ""
    what = text[: at.start()] if at else text
    if isinstance(exc.__cause__, SettingsError):
        sub = exc.__cause__.key
        key = path if not sub else f"{path}{sub}" if sub.startswith("[") else _join(path, sub)
        return SettingsError(f"{key or 'settings'}: {exc.__cause__}", key)
    if m := re.fullmatch(r"Object contains unknown field `(?P<f>[^`]+)`", what):
        key = _join(path, m.group("f"))
        known = _known_keys(root, path)
        return SettingsError(
            f"{key}: unknown key" + (f"; the known keys here are: {', '.join(known)}" if known else ""), key
        )
    if m := re.fullmatch(r"Object missing required field `(?P<f>[^`]+)`", what):
        key = _join(path, m.group("f"))
        return SettingsError(f"{key}: required, but not given", key)
    if m := re.fullmatch(r"Expected `(?P<want>[^`]+)`, got `(?P<got>[^`]+)`", what):
        return SettingsError(f"{path}: must be {_words(m.group('want'))}, not {_words(m.group('got'))}", path)
    if m := re.fullmatch(r"Expected `(?P<want>[^`]+)` (?P<len>of length )?(?P<op>>=|<=|>|<) (?P<n>\S+)", what):
        ops = {">=": "at least", "<=": "at most", ">": "greater than", "<": "less than"}
        noun = " characters/items" if m.group("len") else ""
        return SettingsError(f"{path}: must be {ops[m.group('op')]} {m.group('n').removesuffix('.0')}{noun}", path)
    if what.startswith("Invalid enum value"):
        allowed = _allowed_values(root, path)
        return SettingsError(f"{path}: must be one of {', '.join(map(repr, allowed))}", path)
    # Our own dec_hooks raise ValueError/TypeError in our words; msgspec passes their text through.
    return SettingsError(f"{path or 'settings'}: {what}", path)


def _env_value(root: type, key: str, name: str, raw: str) -> Any:
    if not _takes_json(_type_at(root, key)):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SettingsError(
            f"{name} must be JSON ({key} is a list, mapping or section): {_parse_problem(exc)}", key
        ) from None


def _put(doc: dict[str, Any], key: str, value: Any) -> None:
    *parents, last = key.split(".")
    for part in parents:
        child = doc.get(part)
        if not isinstance(child, dict):
            child = doc[part] = {}
        doc = child
    doc[last] = value


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _parse_problem(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        return f"{getattr(exc, 'problem', None) or 'syntax error'} at line {mark.line + 1} column {mark.column + 1}"
    return str(exc)


_TYPE_WORDS = {"int": "an integer", "float": "a number", "str": "text", "bool": "true or false", "null": "empty",
               "object": "a mapping", "array": "a list", "number": "a number"}  # fmt: skip


def _words(msgspec_type: str) -> str:
    return " or ".join(_TYPE_WORDS.get(part.strip(), part.strip()) for part in msgspec_type.split("|"))


def _unwrap(tp: Any) -> Any:
    """The type inside Annotated[...] and Optional[...]."""
    while True:
        if typing.get_origin(tp) is Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if typing.get_origin(tp) in (typing.Union, types.UnionType):
            rest = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(rest) == 1:
                tp = rest[0]
                continue
        return tp


def _is_struct(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, msgspec.Struct)


def _takes_json(tp: Any) -> bool:
    tp = _unwrap(tp)
    origin = typing.get_origin(tp) or tp
    scalar = origin in (str, int, float, bool, typing.Literal) or (
        isinstance(origin, type) and issubclass(origin, os.PathLike)
    )
    return not scalar


def _field_paths(root: type, prefix: str = "") -> list[str]:
    """Every field path of a Struct tree; a section comes before its own fields."""
    paths: list[str] = []
    for info in msgspec.structs.fields(root):
        path = _join(prefix, info.encode_name)
        paths.append(path)
        inner = _unwrap(info.type)
        if _is_struct(inner):
            paths.extend(_field_paths(inner, path))
    return paths


def _type_at(root: type, path: str) -> Any:
    """The declared type at a key path like `backends[0].name` (Any when it cannot be followed)."""
    tp: Any = root
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        tp = _unwrap(tp)
        if part.startswith("["):
            args = typing.get_args(tp)
            tp = args[0] if typing.get_origin(tp) is list and args else Any
        elif _is_struct(tp):
            fields = {f.encode_name: f.type for f in msgspec.structs.fields(tp)}
            tp = fields.get(part, Any)
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        else:
            return Any
    return tp


def _known_keys(root: type, path: str) -> list[str]:
    tp = _unwrap(_type_at(root, path))
    return sorted(f.encode_name for f in msgspec.structs.fields(tp)) if _is_struct(tp) else []


def _allowed_values(root: type, path: str) -> list[Any]:
    tp = _unwrap(_type_at(root, path))
    return list(typing.get_args(tp)) if typing.get_origin(tp) is typing.Literal else []
