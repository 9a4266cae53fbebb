"""``scimhub serve`` sets the collector for serving; a mounted app leaves the host's settings."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from scimhub import collector


@pytest.fixture
def restored_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_collector")
def test_serving_raises_the_thresholds_and_freezes_what_start_up_built() -> None:
    built_at_start_up = [{"schema": i} for i in range(1000)]
    collector.tune_for_serving()
    assert gc.get_threshold() == collector.THRESHOLDS
    assert gc.get_freeze_count() >= len(built_at_start_up)


def test_building_the_app_leaves_the_collector_alone() -> None:
    from scimhub.app import create_app
    from scimhub.settings import Settings

    thresholds, frozen = gc.get_threshold(), gc.get_freeze_count()
    create_app(Settings.from_env(database_url="sqlite://"))
    assert (gc.get_threshold(), gc.get_freeze_count()) == (thresholds, frozen)


def test_serve_tunes_the_collector_after_building_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn
    from click.testing import CliRunner

    from scimhub.admin.cli import main

    calls: list[str] = []
    monkeypatch.setattr(collector, "tune_for_serving", lambda: calls.append("tune"))
    monkeypatch.setattr(uvicorn, "run", lambda app, **_: calls.append(f"run {type(app).__name__}"))
    monkeypatch.setenv("SCIMHUB_DATABASE_URL", "sqlite://")
    result = CliRunner().invoke(main, ["serve"])
    assert result.exit_code == 0, result.output
    assert calls == ["tune", "run Starlette"]
