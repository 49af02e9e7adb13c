"""A rule's silence window and a monitor's schedule refuse a time zone the IANA database does not know,
in the same words (alerting/model.require_time_zone)."""

from __future__ import annotations

import pydantic
import pytest

from wafermon_gateway.alerting.model import SilenceParams
from wafermon_gateway.alerting.monitor_model import Schedule


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "../etc/passwd", ""])
def test_an_unknown_time_zone_is_refused_by_name(zone: str) -> None:
    for build in (lambda: SilenceParams(window_s=60, tz=zone), lambda: Schedule(cron="0 2 * * *", tz=zone)):
        with pytest.raises(pydantic.ValidationError) as raised:
            build()
        assert f"unknown time zone {zone!r}" in str(raised.value)


def test_a_known_time_zone_is_kept() -> None:
    assert SilenceParams(window_s=60, tz="Europe/Berlin").tz == "Europe/Berlin"
    assert Schedule(interval_s=60, tz="Asia/Tokyo").tz == "Asia/Tokyo"
