"""Settings: every SCIMHUB_* variable is documented in the README table, and read with care."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from scimhub.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"
ROW = re.compile(r"^\| `(SCIMHUB_[A-Z0-9_]+)` \| (.*?) \| (.+) \|$")
# Defaults the table words instead of giving a value.
WORDED = {"unset": None, "from the request": None}


def readme_table() -> dict[str, str]:
    """variable → default cell of README.md's "## Configuration" table."""
    section = README.read_text(encoding="utf-8").split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = [ROW.match(line) for line in section.splitlines() if line.startswith("| `SCIMHUB_")]
    assert all(rows), [line for line in section.splitlines() if line.startswith("| `SCIMHUB_")]
    table = {m.group(1): m.group(2).strip("`") for m in rows if m}
    assert len(table) == len(rows), "a variable is listed twice"
    return table


def env_name(field_name: str) -> str:
    return f"SCIMHUB_{field_name.upper()}"


def test_every_setting_is_documented_and_every_documented_variable_exists() -> None:
    documented = set(readme_table())
    settings = {env_name(f.name) for f in fields(Settings)}

    assert sorted(settings - documented) == [], "Settings fields missing from the README table"
    assert sorted(documented - settings) == [], "README variables that are no Settings field"


def test_the_documented_defaults_are_the_defaults() -> None:
    table = readme_table()
    for f in fields(Settings):
        cell = table[env_name(f.name)]
        documented = WORDED[cell] if cell in WORDED else Settings.from_env({env_name(f.name): cell})
        expected = f.default if cell in WORDED else getattr(documented, f.name)
        assert getattr(Settings(), f.name) == expected, (f.name, cell)


def test_from_env_reads_only_scimhub_variables_and_keeps_defaults() -> None:
    assert Settings.from_env({}) == Settings()
    assert Settings.from_env({"DATABASE_URL": "sqlite:///other.db", "scimhub_port": "1"}) == Settings()


def test_from_env_converts_ints_floats_and_bools() -> None:
    settings = Settings.from_env(
        {
            "SCIMHUB_PORT": " 9000 ",
            "SCIMHUB_MAX_RESULTS": "50",
            "SCIMHUB_WEBHOOK_TIMEOUT_SECONDS": "2.5",
            "SCIMHUB_WEBHOOK_BACKOFF_MAX_SECONDS": "60",
            "SCIMHUB_STRICT_RFC": "yes",
            "SCIMHUB_WORKER_ENABLED": "Off",
            "SCIMHUB_METRICS_ENABLED": "0",
            "SCIMHUB_AUTO_MIGRATE": " TRUE ",
            "SCIMHUB_BASE_URL": "https://id.example.com/scim/v2",
            "SCIMHUB_RATE_LIMIT": "",
        }
    )

    assert (settings.port, settings.max_results) == (9000, 50)
    assert (settings.webhook_timeout_seconds, settings.webhook_backoff_max_seconds) == (2.5, 60.0)
    assert isinstance(settings.webhook_backoff_max_seconds, float)
    assert (settings.strict_rfc, settings.worker_enabled, settings.metrics_enabled, settings.auto_migrate) == (
        True,
        False,
        False,
        True,
    )
    assert settings.base_url == "https://id.example.com/scim/v2"
    assert settings.rate_limit == ""
    assert settings.policy.string_booleans is False  # strict_rfc


@pytest.mark.parametrize("true", ["1", "true", "yes", "on", "True", "ON"])
@pytest.mark.parametrize("false", ["0", "false", "no", "off", "FALSE", "No"])
def test_every_boolean_spelling(true: str, false: str) -> None:
    assert Settings.from_env({"SCIMHUB_STRICT_RFC": true}).strict_rfc is True
    assert Settings.from_env({"SCIMHUB_STRICT_RFC": false}).strict_rfc is False


@pytest.mark.parametrize(
    ("variable", "raw", "message"),
    [
        ("SCIMHUB_PORT", "eighty", "SCIMHUB_PORT must be an integer, got 'eighty'"),
        ("SCIMHUB_REQUEST_LOG_SIZE", "1.5", "SCIMHUB_REQUEST_LOG_SIZE must be an integer, got '1.5'"),
        ("SCIMHUB_MAX_BODY_BYTES", "", "SCIMHUB_MAX_BODY_BYTES must be an integer, got ''"),
        ("SCIMHUB_WEBHOOK_TIMEOUT_SECONDS", "10s", "SCIMHUB_WEBHOOK_TIMEOUT_SECONDS must be a number, got '10s'"),
        *[
            (
                "SCIMHUB_TOKEN_RECHECK_SECONDS",
                raw,
                f"SCIMHUB_TOKEN_RECHECK_SECONDS must be a finite number of seconds >= 0, got {raw!r}",
            )
            for raw in ("nan", "inf", "-1", "-0.5")  # a NaN or infinite recheck would never reread a token
        ],
        ("SCIMHUB_STRICT_RFC", "maybe", "SCIMHUB_STRICT_RFC must be true or false, got 'maybe'"),
        ("SCIMHUB_METRICS_ENABLED", "", "SCIMHUB_METRICS_ENABLED must be true or false, got ''"),
    ],
)
def test_from_env_rejects_bad_values_with_a_clear_message(variable: str, raw: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        Settings.from_env({variable: raw})

    assert str(caught.value) == message


def test_overrides_win_over_the_environment_and_none_is_no_override() -> None:
    env = {"SCIMHUB_HOST": "0.0.0.0", "SCIMHUB_PORT": "9000"}  # noqa: S104

    settings = Settings.from_env(env, host="127.0.0.2", port=None)

    assert (settings.host, settings.port) == ("127.0.0.2", 9000)


def test_the_input_limits_come_from_their_settings() -> None:
    settings = Settings.from_env(
        {
            "SCIMHUB_MAX_STRING_LENGTH": "10",
            "SCIMHUB_MAX_MEMBERS_PER_REQUEST": "11",
            "SCIMHUB_MAX_PATCH_OPERATIONS": "12",
            "SCIMHUB_MAX_FILTER_LENGTH": "13",
            "SCIMHUB_MAX_FILTER_DEPTH": "14",
            "SCIMHUB_MAX_VALUES_PER_ATTRIBUTE": "15",
            "SCIMHUB_MAX_PATCH_COMPARISONS": "16",
            "SCIMHUB_MAX_RESOURCE_BYTES": "17",
        }
    )

    limits = settings.limits
    assert (
        limits.max_string_length,
        limits.max_members_per_request,
        limits.max_patch_operations,
        limits.max_filter_length,
        limits.max_filter_depth,
        limits.max_values_per_attribute,
        limits.max_patch_comparisons,
        limits.max_resource_bytes,
    ) == (10, 11, 12, 13, 14, 15, 16, 17)


@pytest.mark.parametrize("variable", ["SCIMHUB_ADMIN_TOKEN", "SCIMHUB_METRICS_TOKEN"])
def test_a_short_token_is_refused_at_start_up(variable: str) -> None:
    short = "s3cr3t-but-only-31-characters.."
    with pytest.raises(ValueError) as caught:
        Settings.from_env({variable: short})

    assert str(caught.value) == (
        f"{variable} must be at least 32 characters, got 31; "
        "make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
    )
    assert short not in str(caught.value)  # never echoed (it may be in a log)
    field = variable.removeprefix("SCIMHUB_").lower()
    with pytest.raises(ValueError, match=f"{variable} must be at least 32 characters"):
        Settings(**{field: short})  # a host app building Settings
    assert getattr(Settings.from_env({variable: short + "x"}), field) == short + "x"  # 32 is enough
    assert getattr(Settings.from_env({variable: ""}), field) == ""  # empty: unset (the admin API is off)
