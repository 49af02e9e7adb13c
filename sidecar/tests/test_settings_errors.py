"""Settings errors in our words: the file (or variable), the key path and what is wrong, for every
format the shared loader reads; and the environment rule derived from the fields."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from conftest import SIDECAR_EXE

from wafermon_sidecar.config import ENV_ALIASES, SPEC, ConfigError, SettingsError, build_settings, load_settings

CASES = [
    # (settings, the message after "<file>: ")
    ({"ingest": {"prot": 1}}, "ingest.prot: unknown key; the known keys here are: auth_token, flush_interval, host"),
    ({"ingest": {"port": "many"}}, "ingest.port: must be an integer, not text"),
    ({"ingest": {"port": 70000}}, "ingest.port must be 1..65535, got 70000"),
    ({"spool": {"max_size_mb": "big"}}, "spool.max_size_mb: must be a number, not text"),
    ({"backends": [{"name": "x"}]}, "backends[0].type: required, but not given"),
]


def _write(path: Path, doc: dict[str, object]) -> None:
    if path.suffix == ".json":
        path.write_text(json.dumps(doc))
    elif path.suffix == ".toml":  # the cases are two levels deep at most: [section] key = value
        lines = []
        for section, body in doc.items():
            if isinstance(body, list):
                for item in body:
                    lines += [f"[[{section}]]", *(f"{k} = {json.dumps(v)}" for k, v in item.items())]
            else:
                assert isinstance(body, dict)
                lines += [f"[{section}]", *(f"{k} = {json.dumps(v)}" for k, v in body.items())]
        path.write_text("\n".join(lines) + "\n")
    else:
        path.write_text(json.dumps(doc))  # JSON is YAML too


@pytest.mark.parametrize("suffix", [".yaml", ".json", ".toml"])
@pytest.mark.parametrize(("doc", "message"), CASES)
def test_errors_name_the_file_and_the_key(tmp_path: Path, suffix: str, doc: dict[str, object], message: str) -> None:
    path = tmp_path / f"sidecar{suffix}"
    _write(path, doc)
    with pytest.raises(SettingsError) as err:
        load_settings(path)
    assert str(err.value).startswith(f"{path}: {message}"), str(err.value)
    assert "Expected" not in str(err.value) and "`" not in str(err.value)  # no msgspec wording


def test_check_config_prints_the_same_message(tmp_path: Path) -> None:
    path = tmp_path / "sidecar.toml"
    path.write_text("[ingest]\nport = 70000\n")
    done = subprocess.run([SIDECAR_EXE, "--config", str(path), "--check-config"], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip() == f"wafermon-sidecar: {path}: ingest.port must be 1..65535, got 70000"
    path.write_text('[ingest]\nport = 17123\n[spool]\npath = "/tmp/x"\n')
    done = subprocess.run([SIDECAR_EXE, "--config", str(path), "--check-config"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "configuration OK", done.stderr


def test_every_field_has_a_derived_variable_and_the_old_names_still_work() -> None:
    names = SPEC.env_names()
    assert names["WAFERMON_SIDECAR_INGEST_PORT"] == "ingest.port"
    assert names["WAFERMON_SIDECAR_DELIVERY_SEND_TIMEOUT_S"] == "delivery.send_timeout_s"
    assert names["WAFERMON_SIDECAR_SPOOL_PATH"] == "spool.path"  # documented before; also the rule's name
    assert names["WAFERMON_SIDECAR_BACKENDS"] == "backends"  # a list: JSON
    assert all(names[alias] == key for alias, key in ENV_ALIASES.items())
    env = {
        "WAFERMON_SIDECAR_DELIVERY_SEND_TIMEOUT_S": "7.5",
        "WAFERMON_SIDECAR_INGEST_MAX_BATCH_SIZE": "40",
        "WAFERMON_SIDECAR_BACKENDS": '[{"type": "filesystem", "config": {"path": "/tmp/out"}}]',
        "WAFERMON_SIDECAR_PORT": "17001",
        "WAFERMON_SIDECAR_INGEST_PORT": "17002",  # the derived name wins over the alias
    }
    s = build_settings({}, environ=env)
    assert (s.delivery.send_timeout_s, s.ingest.max_batch_size, s.ingest.port) == (7.5, 40, 17002)
    assert s.backends[0].name == "filesystem"


def test_a_bad_variable_is_named() -> None:
    with pytest.raises(ConfigError) as err:
        build_settings({}, environ={"WAFERMON_SIDECAR_PORT": "http"})
    assert str(err.value) == "WAFERMON_SIDECAR_PORT: ingest.port: must be an integer, not text"


def test_the_documented_variables_are_the_ones_read() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "sidecar.md").read_text()
    section = doc.split("### Environment variables", 1)[1].split("## Backends", 1)[0]
    documented_aliases = dict(re.findall(r"^\| `(WAFERMON_SIDECAR_\w+)` \| `([\w.]+)` \|$", section, re.M))
    assert documented_aliases == ENV_ALIASES
    names = SPEC.env_names()
    for variable in re.findall(r"`(WAFERMON_SIDECAR_\w+)", section):
        assert variable in names, variable
    derived = dict(re.findall(r"`([\w.]+)` is `(WAFERMON_SIDECAR_\w+)`", section))
    assert derived and all(names[variable] == key for key, variable in derived.items())


def test_a_file_of_no_known_extension_is_yaml(tmp_path: Path) -> None:
    path = tmp_path / "sidecar.conf"
    path.write_text("ingest: {port: 17077}\n")
    assert load_settings(path).ingest.port == 17077
