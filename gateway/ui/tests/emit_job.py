"""Emits one job through the Python SDK for the browser test: a lot of three wafers, wafer-3 fails.

Prints the job id as soon as the job has started (so the test can time how fast it shows), keeps the
job running for a few seconds, then finishes it successfully.
Usage: emit_job.py LOT SITE (the app name comes from WAFERMON_APP_NAME)"""

from __future__ import annotations

import sys
import time

import wafermon


def main(lot: str, site: str) -> None:
    with wafermon.job(lot, site_id=site, metadata={"recipe": "etch-7", "tool": {"id": "ETCH-03"}}) as job:
        print(job.id, flush=True)
        for n, wafer in enumerate(("wafer-1", "wafer-2", "wafer-3"), start=1):
            try:
                with job.subjob(wafer, metadata={"slot": n}) as w:
                    time.sleep(0.6)
                    w.progress(1.0)
                    if wafer == "wafer-3":
                        raise ValueError("particle count 412 over limit 300")
            except ValueError:
                pass
            job.progress(n / 3)
        time.sleep(1.5)
    wafermon.flush(10)


if __name__ == "__main__":
    main(*sys.argv[1:3])
