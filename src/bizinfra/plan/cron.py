"""The longest wait between two runs of a five-field cron schedule (UTC), as Kubernetes' CronJob controller reads
it (robfig/cron): a day runs when its month matches and its day of month and day of week both match, or, when
neither of those two fields is `*`, either does."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

from bizinfra.spec.models import _CRON_FIELDS, _cron_value

MINUTES_A_DAY = 24 * 60
# Weekdays and leap years repeat every 28 years (between 1901 and 2099), so every gap between running days shows
# within 28 years and a bit; starting on a fixed day keeps the answer the same on every machine.
CALENDAR_START = date(2001, 1, 1)
CALENDAR_DAYS = 28 * 366 + 366


def field_values(text: str, low: int, high: int, names: dict[str, int]) -> set[int]:
    """The values a validated field stands for: `*`, `5`, `1-5`, `*/15`, `10-40/10`, `MON-FRI`, and lists."""
    values: set[int] = set()
    for item in text.split(","):
        span, _, step = item.partition("/")
        first, dash, last = span.partition("-")
        if span == "*":
            start, end = low, high
        else:
            start = _cron_value(first, names) or 0  # validated: a number or a name
            end = (_cron_value(last, names) or 0) if dash else (high if step else start)  # `5/15` runs 5 to high
        values.update(range(start, end + 1, int(step or 1)))
    return values


def runs_on(day: date, days_of_month: set[int], months: set[int], days_of_week: set[int], either: bool) -> bool:
    if day.month not in months:
        return False
    by_date, by_weekday = day.day in days_of_month, day.isoweekday() % 7 in days_of_week  # cron: Sunday is 0
    return (by_date or by_weekday) if either else (by_date and by_weekday)


def longest_gap_seconds(schedule: str) -> int | None:
    """The most seconds from one run to the next; None for a schedule that never runs (31 February)."""
    texts = schedule.split()
    minutes, hours, days_of_month, months, days_of_week = (
        field_values(text, low, high, names) for text, (_, low, high, names) in zip(texts, _CRON_FIELDS, strict=True))
    either = texts[2] != "*" and texts[4] != "*"
    times = sorted(hour * 60 + minute for hour in hours for minute in minutes)  # the minutes of a running day
    days = [offset for offset in range(CALENDAR_DAYS)
            if runs_on(CALENDAR_START + timedelta(days=offset), days_of_month, months, days_of_week, either)]
    if not days:
        return None
    within_a_day = [later - earlier for earlier, later in pairwise(times)]
    # From a running day's last run to the next running day's first.
    across_days = [(later - earlier) * MINUTES_A_DAY - (times[-1] - times[0])
                   for earlier, later in pairwise(days)]
    return 60 * max(within_a_day + across_days, default=CALENDAR_DAYS * MINUTES_A_DAY)
