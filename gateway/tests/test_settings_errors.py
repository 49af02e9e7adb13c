"""Gateway settings errors in our words (the file or variable, the key path, what is wrong), for
every format the shared loader reads; and the environment rule derived from the fields."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wafermon_gateway.settings import SPEC, SettingsError, load_settings

CASES = [
    # (TOML, the same as JSON, the message after "<file>: ")
    ("prot = 1\n", {"prot": 1}, "prot: unknown key; the known keys here are: alerting, api_keys, compress_after_hours"),
    ('port = "http"\n', {"port": "http"}, "port: must be an integer, not text"),
    ("port = 70000\n", {"port": 70000}, "port: must be at most 65535"),
    (
        "[alerting]\ngroup_wait_s = 601\n",
        {"alerting": {"group_wait_s": 601}},
        "alerting.group_wait_s: must be at most 600",
    ),
    ("[alerting]\nbogus = 1\n", {"alerting": {"bogus": 1}}, "alerting.bogus: unknown key"),
    (
        '[[alerting.rules]]\nname = "r"\nkind = "lost"\ncooldown_s = "soon"\n',
        {"alerting": {"rules": [{"name": "r", "kind": "lost", "cooldown_s": "soon"}]}},
        "alerting.rules[0].cooldown_s: must be a number",
    ),
    (
        '[[alerting.rules]]\nname = "r"\nkind = "lost"\nextra = 1\n',
        {"alerting": {"rules": [{"name": "r", "kind": "lost", "extra": 1}]}},
        "alerting.rules[0].extra: unknown key",
    ),
]


@pytest.mark.parametrize("suffix", [".toml", ".json", ".yaml"])
@pytest.mark.parametrize(("toml", "doc", "message"), CASES)
def test_errors_name_the_file_and_the_key(tmp_path: Path, suffix: str, toml: str, doc: object, message: str) -> None:
    path = tmp_path / f"gateway{suffix}"
    path.write_text(toml if suffix == ".toml" else json.dumps(doc))
    with pytest.raises(SettingsError) as err:
        load_settings(path, environ={})
    assert str(err.value).startswith(f"{path}: {message}"), str(err.value)
    for foreign in ("Input should", "Expected", "`", "pydantic"):  # neither pydantic's nor msgspec's wording
        assert foreign not in str(err.value)


def test_nested_fields_have_derived_variables_and_the_old_names_still_work() -> None:
    names = SPEC.env_names()
    assert names["WAFERMON_GATEWAY_ALERTING_GROUP_WAIT_S"] == "alerting.group_wait_s"
    assert names["WAFERMON_DATABASE_URL"] == "database_url"
    env = {
        "WAFERMON_GATEWAY_ALERTING": '{"group_wait_s": 3, "max_items": 7}',
        "WAFERMON_GATEWAY_ALERTING_GROUP_WAIT_S": "4",
        "WAFERMON_GATEWAY_ALERTING_ENABLED": "false",
        "WAFERMON_GATEWAY_SQLITE_PATH": "/tmp/gw.db",
    }
    s = load_settings(environ=env)
    assert (s.alerting.group_wait_s, s.alerting.max_items, s.alerting.enabled) == (4, 7, False)
    assert s.sqlite_path == Path("/tmp/gw.db")


def test_a_bad_variable_is_named() -> None:
    with pytest.raises(SettingsError) as err:
        load_settings(environ={"WAFERMON_GATEWAY_ALERTING_MAX_ITEMS": "0"})
    assert str(err.value) == "WAFERMON_GATEWAY_ALERTING_MAX_ITEMS: alerting.max_items: must be at least 1"
    with pytest.raises(SettingsError) as err:
        load_settings(environ={"WAFERMON_GATEWAY_CONFIG": "/nonexistent/gw.toml"})
    assert str(err.value) == "cannot read config file /nonexistent/gw.toml: No such file or directory"


def test_the_docs_example_file_loads(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "gateway.md").read_text()
    example = doc.split("Example `gateway.toml` (loaded by the test suite):\n\n```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "gateway.conf"  # an extension that names no format: TOML
    path.write_text(example)
    env = {"WAFERMON_DB_PASSWORD": "pw", "WAFERMON_INGEST_KEY": "i" * 16, "WAFERMON_READ_KEY": "r" * 16}
    s = load_settings(path, environ=env)
    assert (s.host, s.database_url, s.heartbeat_s) == ("0.0.0.0", "postgresql://wafermon:pw@db.fab1/wafermon", 30)
    assert [(k.name, k.key, k.scopes) for k in s.api_keys] == [
        ("sidecars", "i" * 16, ["ingest"]),
        ("dashboard", "r" * 16, ["read"]),
    ]
    for variable in (
        "WAFERMON_GATEWAY_RETENTION_HOURS",
        "WAFERMON_GATEWAY_ALERTING_GROUP_WAIT_S",
        "WAFERMON_DATABASE_URL",
    ):
        assert variable in doc and variable in SPEC.env_names()
