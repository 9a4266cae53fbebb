"""The guard's settings: `scimhub tenant set/show`, the server default, and the pure rules."""

from __future__ import annotations

import pytest

from scimhub.safety.guard import GuardRule
from scimhub.safety.guard import Threshold
from scimhub.safety.guard import Window
from scimhub.safety.guard import advance
from scimhub.safety.guard import carried
from scimhub.safety.guard import crossing
from scimhub.safety.guard import parse_threshold
from scimhub.safety.guard import parse_window
from scimhub.settings import Settings
from scimhub.store.sql import SqlStore
from tests.cli.support import Cli
from tests.conftest import TenantAccess

SET = ("tenant", "set", "acme")


@pytest.mark.anyio
async def test_tenant_set_normalises_guard_values_and_show_tells_their_source(
    cli: Cli, store: SqlStore, acme: TenantAccess
) -> None:
    assert cli.ok(*SET, "guard.deprovision_threshold", " 10% ") == ["acme: guard.deprovision_threshold = 10%"]
    assert cli.ok(*SET, "guard.window", "90m") == ["acme: guard.window = 90m"]
    assert await store.tenant_settings(acme.tenant_id) == {"guard.deprovision_threshold": "10%", "guard.window": "90m"}
    shown = cli.ok("tenant", "show", "acme")
    assert "guard.deprovision_threshold\t10%\ttenant setting" in shown
    assert "guard.window\t90m\ttenant setting" in shown
    cli.ok(*SET, "guard.deprovision_threshold", "default")
    cli.ok(*SET, "guard.window", "default")
    shown = cli.ok("tenant", "show", "acme", SCIMHUB_GUARD_DEPROVISION_THRESHOLD="25")
    assert "guard.deprovision_threshold\t25\tserver environment (SCIMHUB_GUARD_DEPROVISION_THRESHOLD)" in shown
    assert "guard.window\t1h\tbuilt-in default" in shown


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("guard.deprovision_threshold", "ten", "takes a count such as 50 or a percentage such as 10%"),
        ("guard.deprovision_threshold", "3.5", "not '3.5'"),
        ("guard.deprovision_threshold", "0%", "not '0%'"),
        ("guard.deprovision_threshold", "150%", "not '150%'"),
        ("guard.window", "soon", "takes a duration such as 1h, 30m or 900s"),
        ("guard.window", "0s", "not '0s'"),
    ],
)
async def test_bad_guard_values_are_refused_and_nothing_is_stored(
    cli: Cli, store: SqlStore, acme: TenantAccess, key: str, value: str, message: str
) -> None:
    refused = cli(*SET, key, value)
    assert refused.exit_code == 2
    assert message in refused.output
    assert await store.tenant_settings(acme.tenant_id) == {}


def test_a_bad_server_default_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="SCIMHUB_GUARD_DEPROVISION_THRESHOLD takes a count"):
        Settings.from_env({"SCIMHUB_GUARD_DEPROVISION_THRESHOLD": "lots"})
    assert Settings.from_env({"SCIMHUB_GUARD_DEPROVISION_THRESHOLD": "5%"}).guard_deprovision_threshold == "5%"


def test_a_failing_rate_above_one_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="SCIMHUB_STATUS_FAILING_ERROR_RATE must be a rate from 0 to 1, got 2"):
        Settings.from_env({"SCIMHUB_STATUS_FAILING_ERROR_RATE": "2"})
    assert Settings.from_env({"SCIMHUB_STATUS_FAILING_ERROR_RATE": "0.2"}).status_failing_error_rate == 0.2


def test_thresholds_and_windows_parse() -> None:
    assert parse_threshold("25") == Threshold(count=25)
    assert parse_threshold("12.5%") == Threshold(percent=12.5)
    assert Threshold(percent=10).limit(95) == 9
    assert Threshold(count=0).limit(1000) == 0
    assert [parse_window(v) for v in ("3600", "90s", "30m", "2h", "1d")] == [3600, 90, 1800, 7200, 86400]


def test_crossing_names_the_first_deprovisioning_past_the_threshold() -> None:
    rule = GuardRule(Threshold(count=3))
    assert crossing(rule, Window("t", 0, None), 3, 0) is None
    assert crossing(rule, Window("t", 0, None), 5, 0) == 3
    assert crossing(rule, Window("t", 2, None), 2, 0) == 1
    assert crossing(rule, Window("t", 7, None), 1, 0) == 0  # already past (e.g. a threshold lowered)
    percent = GuardRule(Threshold(percent=10))
    assert crossing(percent, Window("t", 9, 100), 1, 100) is None
    assert crossing(percent, Window("t", 10, 100), 1, 100) == 0


def test_windows_follow_each_other_and_carry_the_previous_count() -> None:
    start = Window("2026-12-07T09:00:00.000Z", 9, 100)
    assert advance(start, "2026-12-07T09:59:59.999Z", 3600) == start
    assert advance(start, "2026-12-07T10:00:00.000Z", 3600) == Window("2026-12-07T10:00:00.000Z", 0, None, 9)
    assert advance(start, "2026-12-07T10:30:00.000Z", 3600) == Window("2026-12-07T10:00:00.000Z", 0, None, 9)
    assert advance(start, "2026-12-07T11:00:00.000Z", 3600) == Window("2026-12-07T11:00:00.000Z", 0, None, 0)
    assert advance(Window(None, 0, None), "2026-12-07T09:00:00.000Z", 3600) == Window(
        "2026-12-07T09:00:00.000Z", 0, None
    )
    following = Window("2026-12-07T10:00:00.000Z", 0, None, 9)
    assert carried(following, "2026-12-07T10:00:00.000Z", 3600) == 9
    assert carried(following, "2026-12-07T10:15:00.000Z", 3600) == 6.75
    assert carried(following, "2026-12-07T11:00:00.000Z", 3600) == 0


def test_a_burst_across_a_window_boundary_is_caught() -> None:
    rule = GuardRule(Threshold(count=10))
    following = Window("2026-12-07T10:00:00.000Z", 0, None, 9)  # 9 in the window just ended
    carry = carried(following, "2026-12-07T10:01:00.000Z", 3600)  # 8.85 of them still within the hour
    assert crossing(rule, following, 9, 0, carry) == 1  # the second new one is the eleventh in an hour
