"""Tiny runs of the AWS backends' benchmarks (each starts its own moto server, an AWS protocol
emulator), so each keeps working (the real runs are by hand): each exits 0 and prints its figures."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sidecar_tests_conftest import REPO

# script, its arguments for a tiny run, timeout (s), what its output must say
BENCHES = [
    ("s3_backend.py", ["--events", "1000"], 240,
     ["moto S3 emulator, 1000 events in batches of 500", "s3 backend", "aiobotocore put_object", "ratio"]),
    ("sqs_backend.py", ["--events", "200", "--batch", "100"], 240,
     ["moto SQS emulator (standard queue), 200 events in batches of 100", "sqs backend",
      "aiobotocore send_message_batch", "ratio"]),
    ("cloudwatch_backend.py", ["--events", "1000"], 240,
     ["moto CloudWatch Logs emulator, 1000 events in batches of 500", "cloudwatch backend",
      "aiobotocore put_log_events", "ratio"]),
    ("xray_backend.py", ["--events", "600"], 240,
     ["moto X-Ray emulator, 600 events in batches of 500", "xray backend", "aiobotocore put_trace_segments",
      "ratio"]),
]  # fmt: skip


@pytest.mark.parametrize(("script", "args", "timeout", "needles"), BENCHES, ids=[b[0] for b in BENCHES])
def test_aws_bench_against_moto_emulator_runs_and_prints_its_figures(
    script: str, args: list[str], timeout: int, needles: list[str]
) -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / script), *args], capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for needle in needles:
        assert needle in done.stdout, done.stdout
