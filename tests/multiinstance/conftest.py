"""A failed multi-instance test shows the log tail of every server that was alive during it."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from tests.multiinstance.servers import STARTED


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        for server in STARTED:
            if server.stopped_at is None or server.stopped_at >= call.start:
                report.sections.append((f"{server.name} log (tail)", server.log_tail()))
    return report
