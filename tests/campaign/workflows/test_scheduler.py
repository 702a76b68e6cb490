"""When a workflow's schedule says start: once, every N hours, daily at a time (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from accord.campaign.workflows.activities.scheduler import SchedulerOptions

MADE = datetime(2026, 12, 1, 6, 30, tzinfo=UTC)
H = timedelta(hours=1)


def test_once_starts_one_run_at_its_start_or_at_once() -> None:
    at_once = SchedulerOptions(frequency="once")
    assert at_once.due(MADE, None, MADE) and not at_once.due(MADE + H, MADE, MADE)
    later = SchedulerOptions(frequency="once", start=MADE + 2 * H)
    assert not later.due(MADE + H, None, MADE) and later.due(MADE + 2 * H, None, MADE)


def test_hourly_starts_every_n_hours_after_the_last_start() -> None:
    every_six = SchedulerOptions(frequency="hourly", every=6)
    assert every_six.due(MADE, None, MADE)
    assert not every_six.due(MADE + 5 * H, MADE, MADE) and every_six.due(MADE + 6 * H, MADE, MADE)


def test_daily_starts_at_its_time_once_a_day_and_not_for_a_time_before_it_was_made() -> None:
    daily = SchedulerOptions.model_validate({"frequency": "daily", "at": "06:00"})
    assert not daily.due(MADE, None, MADE)  # made at 06:30: today's 06:00 is gone, the first run is tomorrow
    tomorrow = MADE + 23.5 * H  # 06:00 the next day
    assert not daily.due(tomorrow - timedelta(minutes=1), None, MADE) and daily.due(tomorrow, None, MADE)
    assert not daily.due(tomorrow + 3 * H, tomorrow, MADE)  # done today
    assert daily.due(tomorrow + 26 * H, tomorrow, MADE)  # missed at 06:00 (the server was down): started at 08:00
