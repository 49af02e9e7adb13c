"""Cost of ``with wafermon.job(...)`` (start + finish) against an OpenTelemetry SDK span
(start + end), in the same process and run, printed as ns/op and as a ratio.

    .venv/bin/python bench/python_job_overhead.py [--n 50000] [--repeat 5] [--profile]

wafermon runs twice, neither waiting on a network: mode direct into a temporary directory, and
mode sidecar towards a port where nothing listens (events go to the spool). OpenTelemetry runs
with a TracerProvider, a BatchSpanProcessor and an exporter that drops everything. Each figure is
the best of ``--repeat`` timed loops of ``--n`` iterations after a warm-up: the application
thread's cost per job. Delivery happens on the background threads of both libraries; wafermon's is
waited for (flush) between the timed loops, untimed. The queue holds every job of a loop, so no
loop meets back-pressure (OpenTelemetry's BatchSpanProcessor drops spans when its queue is full).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import pstats
import resource
import socket
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

import wafermon


class DropExporter(SpanExporter):
    """Exports nowhere."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


def best_ns_per_op(loop: Callable[[int], None], n: int, repeat: int, settle: Callable[[], None] | None = None) -> float:
    """Best wall time per iteration; ``settle`` runs untimed after each loop (delivery catches
    up on the background thread, so one loop's backlog does not slow the next)."""
    loop(min(n, 2000))  # warm-up
    best = float("inf")
    for _ in range(repeat):
        if settle:
            settle()
        began = time.perf_counter_ns()
        loop(n)
        best = min(best, (time.perf_counter_ns() - began) / n)
    if settle:
        settle()
    return best


def wafermon_loop(client: wafermon.Client) -> Callable[[int], None]:
    """What users write: a new ``wafermon.job(...)`` per job; on the default client when
    ``client`` is it (made by ``wafermon.configure``), else with ``client=``."""
    job = wafermon.job
    if client is wafermon.default_client():

        def loop(n: int) -> None:
            for _ in range(n):
                with job("bench-batch", site_id="fab1"):
                    pass

    else:

        def loop(n: int) -> None:
            for _ in range(n):
                with job("bench-batch", site_id="fab1", client=client):
                    pass

    return loop


def reentered_scope_loop(client: wafermon.Client) -> Callable[[int], None]:
    """One scope made once and entered n times: the cost without making the scope."""

    def loop(n: int) -> None:
        scope = client.job("bench-batch", site_id="fab1")
        for _ in range(n):
            with scope:
                pass

    return loop


def raw_c_loop(client: wafermon.Client) -> Callable[[int], None]:
    """The same start+finish+free through the raw cffi layer: the floor the SDK adds to."""
    from wafermon._native import ffi, lib

    def loop(n: int) -> None:
        out = ffi.new("wm_job **")
        ptr, null = client._ptr, ffi.NULL
        for _ in range(n):
            lib.wm_job_start(ptr, b"bench-batch", null, null, out)
            lib.wm_job_succeed(out[0], null)
            lib.wm_job_destroy(out[0])

    return loop


def syscall_loops() -> dict[str, Callable[[int], None]]:
    """The system calls the core makes per job (2x getrusage, 4x clock_gettime), priced here."""

    def getrusage(n: int) -> None:
        for _ in range(n):
            resource.getrusage(resource.RUSAGE_SELF)

    def clock(n: int) -> None:
        for _ in range(n):
            time.clock_gettime(time.CLOCK_MONOTONIC)

    return {"getrusage() from Python (core: 2 per job)": getrusage, "clock_gettime() (core: 4 per job)": clock}


def otel_loops() -> tuple[TracerProvider, Callable[[int], None], Callable[[int], None]]:
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(DropExporter()))
    tracer = provider.get_tracer("bench")

    def start_end(n: int) -> None:
        for _ in range(n):
            tracer.start_span("bench-batch").end()

    def as_current(n: int) -> None:
        for _ in range(n):
            with tracer.start_as_current_span("bench-batch"):
                pass

    return provider, start_end, as_current


def settle(client: wafermon.Client) -> Callable[[], None]:
    def wait() -> None:
        client.flush(120)

    return wait


def dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again: nothing listens there


def run_only(which: str, n: int) -> None:
    """One loop, nothing else: instruction counts per job come from the difference of two n."""
    tmp = Path(tempfile.mkdtemp(prefix="wafermon-bench-"))
    client = wafermon.configure(
        mode="direct",
        direct_backends=[{"type": "filesystem", "path": str(tmp / "out"), "fsync": False}],
        spool={"path": str(tmp / "spool")},
        queue={"size": 200000},
        log_level="off",
    )
    if which == "otel":
        provider, loop, _ = otel_loops()
        loop(n)
        provider.shutdown()
    else:
        (wafermon_loop if which == "wafermon" else raw_c_loop)(client)(n)
    client.close(120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="profile the wafermon direct loop")
    parser.add_argument(
        "--only",
        choices=["wafermon", "raw", "otel"],
        help="run just this loop --n times, untimed (for python_job_overhead_callgrind.sh)",
    )
    args = parser.parse_args()
    if args.only:
        run_only(args.only, args.n)
        return
    tmp = Path(tempfile.mkdtemp(prefix="wafermon-bench-"))
    common = {"queue": {"size": 200000}, "app": {"name": "bench", "version": "1"}, "exit_flush_timeout": 1}
    direct = wafermon.configure(  # the default client: wafermon.job() without client= uses it
        common,
        mode="direct",
        direct_backends=[{"type": "filesystem", "path": str(tmp / "out"), "fsync": False}],
        spool={"path": str(tmp / "spool-direct")},
    )
    sidecar = wafermon.Client(
        common,
        mode="sidecar",
        sidecar={"url": f"http://127.0.0.1:{dead_port()}", "retries": 0, "timeout": 0.2},
        spool={"path": str(tmp / "spool-sidecar")},
    )
    provider, otel_start_end, otel_as_current = otel_loops()

    results = {
        "otel span start+end (BatchSpanProcessor, drop exporter)": best_ns_per_op(otel_start_end, args.n, args.repeat),
        "otel start_as_current_span (with ...)": best_ns_per_op(otel_as_current, args.n, args.repeat),
        "with wafermon.job(...), mode direct (tmp dir), default client": best_ns_per_op(
            wafermon_loop(direct), args.n, args.repeat, settle(direct)
        ),
        "with wafermon.job(..., client=), mode sidecar (dead port, spooled)": best_ns_per_op(
            wafermon_loop(sidecar), args.n, args.repeat, settle(sidecar)
        ),
        "with scope (made once, re-entered), mode direct": best_ns_per_op(
            reentered_scope_loop(direct), args.n, args.repeat, settle(direct)
        ),
        "raw cffi wm_job_start+succeed+destroy, mode direct": best_ns_per_op(
            raw_c_loop(direct), args.n, args.repeat, settle(direct)
        ),
    }
    for name, loop in syscall_loops().items():
        results[name] = best_ns_per_op(loop, args.n, args.repeat)
    otel = results["otel span start+end (BatchSpanProcessor, drop exporter)"]
    print(f"python_job_overhead: n={args.n} best of {args.repeat}")
    for name, ns in results.items():
        print(f"  {name:68s} {ns:10.0f} ns/op   ratio vs otel span {ns / otel:6.3f}x")
    print("  target: with wafermon.job(...) <= 0.1x of the OpenTelemetry span")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(wafermon_loop(direct), args.n)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(8)
    provider.shutdown()
    direct.close(10)
    with contextlib.suppress(wafermon.WafermonTimeoutError):  # nothing listens: the rest is spooled
        sidecar.close(1)


if __name__ == "__main__":
    main()
