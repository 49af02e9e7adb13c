"""The nats backend's subjects, tokens and headers match conformance/backends/nats-vectors.json, and
its config is checked by name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from wafermon_sidecar.backends.base import ConfigurationError
from wafermon_sidecar.backends.nats_jetstream import NatsBackend
from wafermon_sidecar.backends.nats_subjects import check_template, escape_token, stream_subjects, subject_for

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[2] / "conformance" / "backends" / "nats-vectors.json").read_text()
)


@pytest.mark.parametrize("case", VECTORS["vectors"], ids=[c["name"] for c in VECTORS["vectors"]])
def test_event_gets_the_vector_subjects(case: dict[str, Any]) -> None:
    for template, subject in case["subjects"].items():
        assert subject_for(template, case["event"]) == subject
    assert case["headers"]["Nats-Msg-Id"] == case["event"]["event_id"]


@pytest.mark.parametrize("case", VECTORS["tokens"], ids=[c["value"] or "empty" for c in VECTORS["tokens"]])
def test_values_escape_to_one_token(case: dict[str, Any]) -> None:
    token = escape_token(case["value"])
    assert token == case["token"]
    assert token and not set(token) & set(". *>\t\r\n")  # one token, never a wildcard
    if case["value"]:  # reversible: percent-decoding gives the value back
        assert unquote(token) == case["value"]


@pytest.mark.parametrize("case", VECTORS["templates"], ids=[c["template"] for c in VECTORS["templates"]])
def test_templates_are_checked(case: dict[str, Any]) -> None:
    assert (check_template(case["template"]) is None) == case["valid"]
    if case["valid"]:
        assert stream_subjects(case["template"]) == case["stream_subjects"]


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"subject": "wafermon.{lot}"}, "config.subject"),
        ({"subject": "wafermon.>"}, "config.subject"),
        ({"stream": "A.B"}, "config.stream"),
        ({"servers": ["http://bus:4222"]}, "config.servers"),
        ({"servers": []}, "config.servers"),
        ({"user": "u"}, "config.user"),
        ({"token": "t", "credentials_file": "/c.creds"}, "config.token"),
        ({"key_file": "/k.pem"}, "config.key_file"),
        ({"duplicate_window_s": 0}, "config.duplicate_window_s"),
        ({"max_in_flight": 0}, "config.max_in_flight"),
        ({"storage": "disk"}, "config.storage"),
        ({"ack_timout": 3}, "config.ack_timout"),
    ],
)
def test_config_errors_name_the_backend_and_the_key(config: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        NatsBackend("bus", config)
    assert "'bus'" in str(caught.value) and key in str(caught.value)
