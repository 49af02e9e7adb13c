"""The README's demo job: one lot of three wafers, one of which fails, reported through the Python SDK.

Run by scripts/run.sh against the local stack (sidecar on 17000, gateway on 18000)."""

from __future__ import annotations

import sys
import time

import wafermon


def process_lot(lot: str) -> str:
    with wafermon.job(lot, site_id="fab1", metadata={"recipe": "etch-7", "tool": "ETCH-03"}) as job:
        for n, wafer in enumerate(("wafer-1", "wafer-2", "wafer-3"), start=1):
            try:
                with job.subjob(wafer, metadata={"slot": n}) as w:
                    for step in ("clean", "etch", "inspect"):
                        time.sleep(0.05)
                        w.progress(("clean", "etch", "inspect").index(step) / 3 + 1 / 3, step=step)
                    if wafer == "wafer-3":
                        raise ValueError("particle count 412 over limit 300")
            except ValueError:
                pass  # the wafer is reported failed; the lot goes on
            job.progress(n / 3, wafers_done=n)
        return job.id


if __name__ == "__main__":
    job_id = process_lot(sys.argv[1] if len(sys.argv) > 1 else "demo-lot-1")
    wafermon.flush(10)
    print(job_id)
