"""Every integration example of the seed documents loads with `wafermon-sidecar --check-config` as written.

The examples are read out of the seed documents' code blocks (seed_examples.py), never copied here.
Only these change: file paths move under the test's temporary directory, `${NAME}` secrets get a value
in the environment, and a sketch's `{...}` is filled with the same seed's own example of that type.
A disabled entry is also checked once enabled (as it would run when turned on).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import SIDECAR_EXE
from seed_examples import Example, entries, fill_sketch, read_seeds

from wafermon_sidecar.backends import load_backend_class
from wafermon_sidecar.backends.managed_api import ManagedApiBackend

EXAMPLES, EXCLUDED = read_seeds()
OBJECTS = [e for e in EXAMPLES if e.kind == "object"]
#: where the examples are: a lost or unread one fails test_every_seed_example_is_found
EXPECTED = Counter({("000", "object"): 6, ("000", "list"): 4, ("000", "env"): 1, ("000", "sketch"): 1,
                    ("000", "secrets"): 1, ("002", "settings"): 1})  # fmt: skip
#: per seed type, a key of its seed config and a value that key must refuse
BAD_VALUES: dict[str, tuple[str, Any]] = {
    "local_api": ("base_url", "local-api:18000"),  # no scheme
    "managed_api": ("url", "local-api:18000"),
    "elk": ("index_prefix", "Fab1 Wafer"),  # upper case and a space
    "csv": ("rotation", "weekly"),
    "json": ("compression", "brotli"),
    "webhook": ("method", "FETCH"),
    "filesystem": ("format", "xml"),
    "zabbix": ("host", ["fab1", "fab2"]),
    "s3": ("region", ["us-east-1"]),
}
_SECRET = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
PATH_KEYS = ("output_dir", "path")


def _types(items: list[dict[str, Any]], enabled_only: bool = True) -> set[str]:
    return {e["type"] for e in items if e.get("enabled", True) or not enabled_only}


def _rebased(value: Any, root: Path) -> Any:
    """value with every file path (config output_dir / path, spool.path) moved under root."""
    if isinstance(value, list):
        return [_rebased(v, root) for v in value]
    if not isinstance(value, dict):
        return value
    return {
        k: str(root / v.lstrip("./")) if k in PATH_KEYS and isinstance(v, str) else _rebased(v, root)
        for k, v in value.items()
    }


def _environment(tmp_path: Path, text: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAFERMON_SIDECAR_") and k != "INTEGRATIONS_CONFIG"}
    env.update({name: f"secret-of-{name}" for name in _SECRET.findall(text)})
    env["WAFERMON_SIDECAR_SPOOL_PATH"] = str(tmp_path / "spool")
    env.update(extra)
    return env


def check_config(
    tmp_path: Path, doc: Any | None, file_name: str = "integrations.json", **env: str
) -> subprocess.CompletedProcess[str]:
    """`wafermon-sidecar [--config FILE] --check-config` with doc written to FILE (JSON, or YAML by name)."""
    args = [SIDECAR_EXE, "--check-config"]
    text = json.dumps(doc) if doc is not None else ""
    if doc is not None:
        path = tmp_path / file_name
        path.write_text(yaml.safe_dump(doc) if file_name.endswith(".yaml") else text)
        args += ["--config", str(path)]
    return subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=120,
        env=_environment(tmp_path, text + "".join(env.values()), **env),
    )


def expect_ok(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0 and "configuration OK" in done.stdout, done.stderr


def expect_refused(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    for needle in needles:
        assert needle in done.stderr, (needle, done.stderr)


def _unique_names(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: Counter[str] = Counter()
    out = []
    for item in items:
        name = item.get("name", item["type"])
        seen[name] += 1
        out.append(item if seen[name] == 1 else dict(item, name=f"{name}-{seen[name]}"))
    return out


# --- the examples are all found -------------------------------------------------------------------


def test_every_seed_example_is_found() -> None:
    assert Counter((e.seed[:3], e.kind) for e in EXAMPLES) == EXPECTED
    assert {e.doc["type"] for e in OBJECTS} == {"local_api", "zabbix", "elk", "csv", "json", "webhook"}
    every_type = {entry["type"] for e in EXAMPLES for entry in entries(e)}
    assert every_type == set(BAD_VALUES), "a seed type without a bad-value case below"
    # the only other candidate blocks are the SDK's direct mode (and, with every seed, seed 004's product)
    assert {x.reason for x in EXCLUDED if x.seed.startswith("002")} == {
        "the SDK's direct-mode settings (the C core's direct backends, a later issue)"
    }


# --- as written -----------------------------------------------------------------------------------


def _as_written_cases() -> list[Any]:
    cases = []
    for example in EXAMPLES:
        if example.kind == "object":  # one integration: the seeds' integrations.json holding it alone
            doc: Any = [example.doc]
        elif example.kind == "sketch":
            doc = _unique_names(fill_sketch(example, OBJECTS))
        elif example.kind in ("list", "settings"):
            doc = example.doc
        else:
            continue
        cases.append(pytest.param(doc, id=example.id))
    return cases


@pytest.mark.parametrize("doc", _as_written_cases())
def test_seed_example_loads_as_written(doc: Any, tmp_path: Path) -> None:
    expect_ok(check_config(tmp_path, _rebased(doc, tmp_path)))


def test_the_seed_list_loads_from_yaml_too(tmp_path: Path) -> None:
    (example,) = [e for e in EXAMPLES if e.kind == "list"][:1]
    expect_ok(check_config(tmp_path, _rebased(example.doc, tmp_path), "integrations.yaml"))


@pytest.mark.parametrize("example", [e for e in EXAMPLES if e.kind == "env"], ids=lambda e: e.id)
def test_seed_environment_form_loads(example: Example, tmp_path: Path) -> None:
    # as the shell sets it: `export INTEGRATIONS_CONFIG=$(cat integrations.json)`, no settings file
    expect_ok(check_config(tmp_path, None, INTEGRATIONS_CONFIG=example.text))
    # and its entries are checked: a bad one is refused, naming the variable's backend and key
    bad = json.loads(example.text)
    bad[0]["config"]["colour"] = "blue"
    expect_refused(
        check_config(tmp_path, None, INTEGRATIONS_CONFIG=json.dumps(bad)), f"'{bad[0]['name']}'", "config.colour"
    )


def test_integrations_config_that_is_not_json_is_refused_naming_the_variable(tmp_path: Path) -> None:
    expect_refused(check_config(tmp_path, None, INTEGRATIONS_CONFIG="[{type: csv}"), "INTEGRATIONS_CONFIG", "JSON")


def _disabled_cases() -> list[Any]:
    cases = []
    for example in EXAMPLES:
        items = fill_sketch(example, OBJECTS) if example.kind == "sketch" else entries(example)
        for entry in items:
            if entry.get("enabled", True) is False:
                enabled = dict(entry, enabled=True)
                cases.append(pytest.param(enabled, id=f"{example.id}-{entry['type']}"))
    return cases


@pytest.mark.parametrize("entry", _disabled_cases())
def test_a_disabled_seed_entry_is_valid_once_enabled(entry: dict[str, Any], tmp_path: Path) -> None:
    expect_ok(check_config(tmp_path, _rebased({"backends": [entry]}, tmp_path), "sidecar.json"))


def test_the_sketch_with_its_names_as_written_is_refused_for_the_name_used_twice(tmp_path: Path) -> None:
    (sketch,) = [e for e in EXAMPLES if e.kind == "sketch"]
    done = check_config(tmp_path, _rebased(fill_sketch(sketch, OBJECTS), tmp_path))
    expect_refused(done, "backends[1].name 'test' is used twice")


def test_the_secrets_fragment_works_in_the_seed_examples_that_take_its_keys(tmp_path: Path) -> None:
    (fragment,) = [e for e in EXAMPLES if e.kind == "secrets"]
    every = [entry for e in EXAMPLES if e.kind in ("object", "list") for entry in entries(e)]
    for key, reference in fragment.doc["config"].items():
        assert _SECRET.fullmatch(reference), reference
        entry = next(e for e in every if key in e.get("config", {}))
        doc = [dict(entry, config={**entry["config"], key: reference})]
        expect_ok(check_config(tmp_path, _rebased(doc, tmp_path)))
        variable = _SECRET.fullmatch(reference).group(1)  # type: ignore[union-attr]
        unset = subprocess.run(
            [SIDECAR_EXE, "--check-config", "--config", str(tmp_path / "integrations.json")],
            capture_output=True,
            text=True,
            timeout=120,
            env={k: v for k, v in _environment(tmp_path, "").items() if k != variable},
        )
        expect_refused(unset, f"backends[0].config.{key}", variable)


# --- refused: an unknown key or a bad value names the backend and the key ----------------------------


def _first_entry_per_type() -> dict[str, dict[str, Any]]:
    first: dict[str, dict[str, Any]] = {}
    for example in EXAMPLES:
        items = fill_sketch(example, OBJECTS) if example.kind == "sketch" else entries(example)
        for entry in items:
            first.setdefault(entry["type"], dict(entry, enabled=True))
    return first


FIRST = _first_entry_per_type()


def _with(entry: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """entry with one config key set: inside `config`, or beside `type` in a flat (seed 002) entry."""
    if "config" in entry:
        return dict(entry, config={**entry["config"], key: value})
    return {**entry, key: value}


@pytest.mark.parametrize("kind", ["unknown key", "bad value"])
@pytest.mark.parametrize("seed_type", sorted(BAD_VALUES))
def test_a_bad_seed_config_is_refused_naming_the_backend_and_the_key(seed_type: str, kind: str, tmp_path: Path) -> None:
    entry = FIRST[seed_type]
    key, value = ("colour", "blue") if kind == "unknown key" else BAD_VALUES[seed_type]
    bad = _with(entry, key, value)
    done = check_config(tmp_path, _rebased({"backends": [bad]}, tmp_path), "sidecar.json")
    expect_refused(done, f"'{entry.get('name', seed_type)}'", f"config.{key}")


@pytest.mark.parametrize(
    ("seed_type", "alias"),
    [("local_api", "url"), ("managed_api", "base_url"), ("elk", "url"), ("webhook", "url")],
)
def test_one_endpoint_under_two_names_is_refused(seed_type: str, alias: str, tmp_path: Path) -> None:
    entry = _with(FIRST[seed_type], alias, "http://elsewhere:1")
    done = check_config(tmp_path, _rebased({"backends": [entry]}, tmp_path), "sidecar.json")
    expect_refused(done, f"'{entry.get('name', seed_type)}'", f"config.{alias}")


def test_a_stray_key_beside_config_is_an_unknown_entry_key_not_moved_into_config(tmp_path: Path) -> None:
    entry = dict(FIRST["csv"], output_dri="/backup")
    done = check_config(tmp_path, _rebased({"backends": [entry]}, tmp_path), "sidecar.json")
    expect_refused(done, "backends[0].output_dri: unknown key")


def test_a_top_level_that_is_neither_settings_nor_a_list_is_refused(tmp_path: Path) -> None:
    (tmp_path / "integrations.json").write_text('"csv"')
    done = subprocess.run(
        [SIDECAR_EXE, "--check-config", "--config", str(tmp_path / "integrations.json")],
        capture_output=True,
        text=True,
        timeout=120,
        env=_environment(tmp_path, ""),
    )
    expect_refused(done, "integrations.json", "mapping")


# --- the docs' "Seed configurations" examples -----------------------------------------------------

DOC_EXAMPLES = dict(
    re.findall(
        r"<!-- seed-form-example: (\w+) -->\n```json\n(.*?)```",
        (Path(__file__).resolve().parents[2] / "docs" / "sidecar.md").read_text(),
        re.DOTALL,
    )
)


@pytest.mark.parametrize("form", ["list", "flat"])
def test_the_docs_seed_form_examples_load(form: str, tmp_path: Path) -> None:
    assert set(DOC_EXAMPLES) == {"list", "flat"}
    expect_ok(check_config(tmp_path, _rebased(json.loads(DOC_EXAMPLES[form]), tmp_path)))


def test_local_api_and_the_flat_endpoint_make_the_gateway_request_url() -> None:
    """The seeds' base_url and endpoint keys end up where managed_api posts (and the heartbeat's base)."""
    local_api = load_backend_class("local_api")("primary", FIRST["local_api"]["config"])
    assert isinstance(local_api, ManagedApiBackend)
    assert local_api.url == FIRST["local_api"]["config"]["base_url"] + "/v1/ingest/managed"
    assert local_api.settings.url == FIRST["local_api"]["config"]["base_url"]
    flat = {k: v for k, v in FIRST["managed_api"].items() if k not in ("type", "enabled", "priority")}
    managed = load_backend_class("managed_api")("managed_api", dict(flat, endpoint="/site1/ingest"))
    assert isinstance(managed, ManagedApiBackend) and managed.url == flat["url"] + "/site1/ingest"
