"""The reducer: current state from a job's events, whatever their order and however often repeated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from wafermon_gateway.reducer import EntityState, Facts, facts_from_event, fold, heartbeat_from_metadata, reduce
from wafermon_schema import Event
from wafermon_testkit.events import event, new_id

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def facts(body: dict[str, Any]) -> Facts:
    return facts_from_event(msgspec.json.decode(msgspec.json.encode(body), type=Event))


def test_started_progress_finished() -> None:
    jid = new_id()
    evs = [
        event("started", jid, 0, T0),
        event("progress", jid, 1, T0 + timedelta(seconds=1), progress=0.5, metrics={"cpu_user_s": 1.0}),
        event("finished", jid, 2, T0 + timedelta(seconds=3), metrics={"cpu_user_s": 2.0, "mem_max_mb": 10.0}),
    ]
    s = fold(None, [facts(e) for e in evs])
    assert s is not None
    assert s.base_status == "succeeded"
    assert s.started_at == "2026-11-23T08:00:00.000000Z"
    assert s.finished_at == "2026-11-23T08:00:03.000000Z"
    assert s.duration_s == 3.0  # derived: the finished event carried no duration_s
    assert s.metrics == {"cpu_user_s": 2.0, "mem_max_mb": 10.0}
    assert s.progress == 0.5
    assert s.last_seq == 2


def test_late_finished_wins_over_higher_seq_progress() -> None:
    jid = new_id()
    fin = facts(event("finished", jid, 2, T0 + timedelta(seconds=2), status="failed"))
    late_progress = facts(event("progress", jid, 5, T0 + timedelta(seconds=9), progress=0.9))
    for order in ([fin, late_progress], [late_progress, fin]):
        s = fold(None, order)
        assert s is not None
        assert s.base_status == "failed"
        assert s.error == {"type": "RuntimeError", "message": "boom"}
        assert s.metrics["duration_s"] == 12.5  # finished metrics outrank partial ones


def test_reduce_is_pure() -> None:
    jid = new_id()
    first = reduce(None, facts(event("started", jid, 0, T0)))
    snapshot = first.comparable()
    reduce(first, facts(event("finished", jid, 1, T0 + timedelta(seconds=1))))
    assert first.comparable() == snapshot


def test_heartbeat_metadata() -> None:
    assert heartbeat_from_metadata({"wafermon.heartbeat_s": 5}) == 5.0
    assert heartbeat_from_metadata({"wafermon": {"heartbeat_s": 2.5}}) == 2.5
    assert heartbeat_from_metadata({"wafermon.heartbeat_s": "5"}) is None
    assert heartbeat_from_metadata({"wafermon.heartbeat_s": True}) is None
    assert heartbeat_from_metadata({"wafermon.heartbeat_s": -1}) is None


# --- property: any permutation with duplicates folds to the same state --------------------------


@st.composite
def job_events(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A plausible and some implausible event sets for one job: gaps, equal seqs, a finished that is
    not last, several finished events, metadata changing over time."""
    jid = new_id()
    n = draw(st.integers(min_value=1, max_value=8))
    evs = []
    for i in range(n):
        kind = "started" if i == 0 else draw(st.sampled_from(["progress", "heartbeat", "progress", "finished"]))
        seq = draw(st.integers(min_value=0, max_value=12))
        when = T0 + timedelta(milliseconds=draw(st.integers(min_value=0, max_value=10_000)))
        extra: dict[str, Any] = {}
        if kind == "progress":
            extra["progress"] = draw(st.floats(min_value=0, max_value=1))
            extra["metrics"] = {"cpu_user_s": draw(st.floats(min_value=0, max_value=100))}
        if kind == "finished":
            extra["status"] = draw(st.sampled_from(["succeeded", "failed", "cancelled"]))
            extra["metrics"] = {"duration_s": draw(st.floats(min_value=0, max_value=100))}
        extra["metadata"] = {"step": draw(st.integers(0, 3))}
        evs.append(event(kind, jid, seq, when, **extra))
    return evs


@st.composite
def shuffled_with_duplicates(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    evs = draw(job_events())
    dupes = draw(st.lists(st.sampled_from(evs), max_size=len(evs) * 2))
    mixed = draw(st.permutations(evs + dupes))
    return evs, mixed


@settings(max_examples=300, deadline=None)
@given(shuffled_with_duplicates())
def test_any_permutation_with_duplicates_gives_the_same_state(case: tuple[list[Any], list[Any]]) -> None:
    canonical, mixed = case
    expected = fold(None, [facts(e) for e in canonical])
    got = fold(None, [facts(e) for e in mixed])
    assert isinstance(expected, EntityState) and isinstance(got, EntityState)
    assert got.comparable() == expected.comparable()


@settings(max_examples=100, deadline=None)
@given(shuffled_with_duplicates(), st.integers(min_value=1, max_value=5))
def test_folding_in_chunks_equals_folding_at_once(case: tuple[list[Any], list[Any]], chunks: int) -> None:
    """A store folds batch by batch into a stored state; that must equal one fold of everything."""
    canonical, mixed = case
    state = None
    size = max(1, len(mixed) // chunks)
    for i in range(0, len(mixed), size):
        state = fold(state, [facts(e) for e in mixed[i : i + size]])
    expected = fold(None, [facts(e) for e in canonical])
    assert state is not None and expected is not None
    assert state.comparable() == expected.comparable()
