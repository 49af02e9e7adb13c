"""The conformance report: every scenario x language, printed at the end of the run."""

from __future__ import annotations

from typing import Any

import pytest

RESULTS: dict[tuple[str, str], str] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    report = outcome.get_result()
    callspec = getattr(item, "callspec", None)
    if callspec is None or report.when not in ("setup", "call"):
        return
    key = (callspec.params["scenario"], callspec.params["lang"])
    if report.skipped:
        xfail = hasattr(report, "wasxfail")
        RESULTS[key] = "xfail (known)" if xfail else "skip"
    elif report.failed:
        RESULTS[key] = "FAIL"
    elif report.when == "call":
        RESULTS[key] = "pass"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not RESULTS:
        return
    scenarios = sorted({s for s, _ in RESULTS})
    langs = [lang for lang in ("c", "python", "java", "r", "perl") if any(lang == k[1] for k in RESULTS)]
    tr = terminalreporter
    tr.write_sep("=", "conformance report (scenario x language)")
    tr.write_line(f"{'scenario':34}" + "".join(f"{lang:>14}" for lang in langs))
    for s in scenarios:
        tr.write_line(f"{s:34}" + "".join(f"{RESULTS.get((s, lang), '-'):>14}" for lang in langs))
