"""The shared settings loader: one file reader for JSON, YAML and TOML, one environment rule derived
from the fields, and errors in our words naming the source, the key path and what is wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import msgspec
import pytest

from wafermon_schema.settings_loader import (
    Port,
    Positive,
    SettingsError,
    SettingsSpec,
    build_settings,
    load_settings,
    read_document,
)


class Spool(msgspec.Struct, forbid_unknown_fields=True):
    path: Path = Path("/var/spool")
    max_size_mb: Positive = 100.0


class Item(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1)]


class Root(msgspec.Struct, forbid_unknown_fields=True):
    port: Port = 1
    spool: Spool = msgspec.field(default_factory=Spool)
    items: list[Item] = []
    level: Literal["debug", "info"] = "info"
    token: str | None = None


SPEC = SettingsSpec(Root, "WM_TEST_", aliases={"WM_TEST_OLD_PATH": "spool.path"}, section="svc")
DOC = {"port": 5, "spool": {"max_size_mb": 2.5}, "items": [{"name": "a"}]}


@pytest.mark.parametrize(
    ("suffix", "text"),
    [
        (".json", json.dumps(DOC)),
        (".yaml", "port: 5\nspool: {max_size_mb: 2.5}\nitems:\n  - name: a\n"),
        (".yml", "svc:\n  port: 5\n  spool: {max_size_mb: 2.5}\n  items: [{name: a}]\n"),
        (".toml", "port = 5\n[spool]\nmax_size_mb = 2.5\n[[items]]\nname = 'a'\n"),
        (".toml", "[svc]\nport = 5\n[svc.spool]\nmax_size_mb = 2.5\n[[svc.items]]\nname = 'a'\n"),
    ],
)
def test_every_format_reads_the_same_settings(tmp_path: Path, suffix: str, text: str) -> None:
    path = tmp_path / f"settings{suffix}"
    path.write_text(text)
    settings = load_settings(SPEC, path, environ={})
    assert (settings.port, settings.spool.max_size_mb, settings.items) == (5, 2.5, [Item("a")])


def test_environment_names_come_from_the_field_paths() -> None:
    assert SPEC.env_names() == {
        "WM_TEST_OLD_PATH": "spool.path",
        "WM_TEST_PORT": "port",
        "WM_TEST_SPOOL": "spool",
        "WM_TEST_SPOOL_PATH": "spool.path",
        "WM_TEST_SPOOL_MAX_SIZE_MB": "spool.max_size_mb",
        "WM_TEST_ITEMS": "items",
        "WM_TEST_LEVEL": "level",
        "WM_TEST_TOKEN": "token",
    }


def test_environment_overrides_the_file_and_the_command_line_overrides_both() -> None:
    env = {
        "WM_TEST_PORT": "7",
        "WM_TEST_SPOOL": '{"max_size_mb": 9}',  # a section as JSON; its own fields still win
        "WM_TEST_SPOOL_MAX_SIZE_MB": "3.5",
        "WM_TEST_OLD_PATH": "/old",
        "WM_TEST_ITEMS": '[{"name": "x"}, {"name": "y"}]',
        "WM_TEST_TOKEN": "${SECRET}",
        "SECRET": "s3",
    }
    settings = build_settings(SPEC, DOC, env)
    assert (settings.port, settings.spool.max_size_mb, settings.spool.path) == (7, 3.5, Path("/old"))
    assert [i.name for i in settings.items] == ["x", "y"] and settings.token == "s3"
    env["WM_TEST_SPOOL_PATH"] = "/derived"  # the derived name wins over the alias
    assert build_settings(SPEC, DOC, env, {"port": 8, "level": None}).spool.path == Path("/derived")
    assert build_settings(SPEC, DOC, env, {"port": 8, "level": None}).port == 8


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"spool": {"max_sise_mb": 1}}, "spool.max_sise_mb: unknown key; the known keys here are: max_size_mb, path"),
        ({"port": "many"}, "port: must be an integer, not text"),
        ({"port": 70000}, "port: must be at most 65535"),
        ({"spool": {"max_size_mb": 0}}, "spool.max_size_mb: must be greater than 0"),
        ({"items": [{"name": "a"}, {}]}, "items[1].name: required, but not given"),
        ({"items": [{"name": ""}]}, "items[0].name: must be at least 1 characters/items"),
        ({"level": "loud"}, "level: must be one of 'debug', 'info'"),
        ({"spool": 3}, "spool: must be a mapping, not an integer"),
        ({"spool": {"path": 3}}, "spool.path: must be a file-system path (text), not int"),
        ({"token": "${NOT_SET_HERE}"}, "token: refers to ${NOT_SET_HERE} but that environment variable is not set"),
    ],
)
def test_errors_name_the_file_the_key_and_the_fault(tmp_path: Path, doc: dict[str, object], message: str) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(SettingsError) as err:
        load_settings(SPEC, path, environ={})
    assert str(err.value) == f"{path}: {message}"
    assert "Expected" not in str(err.value) and "`" not in str(err.value)  # no msgspec wording


def test_errors_from_a_variable_name_the_variable() -> None:
    with pytest.raises(SettingsError) as err:
        build_settings(SPEC, {}, {"WM_TEST_SPOOL_MAX_SIZE_MB": "-1"})
    assert str(err.value) == "WM_TEST_SPOOL_MAX_SIZE_MB: spool.max_size_mb: must be greater than 0"
    with pytest.raises(SettingsError, match=r"^WM_TEST_ITEMS must be JSON \(items is a list"):
        build_settings(SPEC, {}, {"WM_TEST_ITEMS": "[nope"})
    with pytest.raises(SettingsError, match=r"^command line: port: must be at most 65535$"):
        build_settings(SPEC, {}, {}, {"port": 99999})


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("s.toml", "port = = 1", "not valid TOML"),
        ("s.yaml", "port: [1", "not valid YAML"),
        ("s.json", "{", "not valid JSON: Expecting property name enclosed in double quotes at line 1 column 2"),
        ("s.yaml", "- 1\n", "must be a mapping (table/object) at the top level"),
        ("s.ini", "port=1", "unknown settings file type '.ini'"),
    ],
)
def test_unreadable_files_are_named(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(SettingsError) as err:
        read_document(path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value)
    with pytest.raises(SettingsError, match=r"cannot read config file .*No such file"):
        read_document(tmp_path / "missing.toml")


def test_two_fields_may_not_derive_the_same_variable() -> None:
    class Clash2(msgspec.Struct):
        spool_path: str = ""
        spool: Spool = msgspec.field(default_factory=Spool)

    with pytest.raises(SettingsError, match=r"WM_SPOOL_PATH would name both spool_path and spool\.path"):
        SettingsSpec(Clash2, "WM_").env_names()
