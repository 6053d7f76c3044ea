"""A cron job whose last success grows too old: the schedule's longest gap between runs, the rule per cron job, its
promtool unit tests and its runbook."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from bizinfra.plan.cron import longest_gap_seconds
from bizinfra.plan.resolve import resolve
from bizinfra.spec.loader import load_platform
from bizinfra.targets.monitoring import rules as r
from tests.support import SPECS
from tests.support.monitoring import assert_ok, promtool, write_tree

TASKS = SPECS / "tasks.yaml"


def runs_brute_force(minutes: set[int], hours: set[int], weekdays: set[int] | None, start: datetime,
                     days: int) -> list[datetime]:
    """Every minute of `days` days that the schedule runs at, checked one by one (cron: Sunday is 0)."""
    times = (start + timedelta(minutes=offset) for offset in range(days * 24 * 60))
    return [t for t in times if t.minute in minutes and t.hour in hours
            and (weekdays is None or t.isoweekday() % 7 in weekdays)]


def listed(values: set[int]) -> str:
    return ",".join(str(value) for value in sorted(values))


@given(minutes=st.sets(st.integers(0, 59), min_size=1, max_size=4),
       hours=st.sets(st.integers(0, 23), min_size=1, max_size=3),
       weekdays=st.none() | st.sets(st.integers(0, 6), min_size=1, max_size=3))
def test_the_longest_gap_is_the_longest_wait_between_runs_counted_minute_by_minute(
        minutes: set[int], hours: set[int], weekdays: set[int] | None) -> None:
    """Weekly at the longest, so three weeks of minutes hold every gap twice over."""
    schedule = f"{listed(minutes)} {listed(hours)} * * {listed(weekdays) if weekdays else '*'}"
    runs = runs_brute_force(minutes, hours, weekdays, datetime(2001, 1, 1), 21)
    longest = max((later - earlier).total_seconds() for earlier, later in pairwise(runs))
    assert longest_gap_seconds(schedule) == longest


def test_the_longest_gap_reads_ranges_steps_names_and_the_calendar() -> None:
    hour = 3600
    assert longest_gap_seconds("30 2 * * *") == 24 * hour
    assert longest_gap_seconds("5/20 * * * *") == 20 * 60  # 5, 25, 45: from :45 to the next hour's :05
    assert longest_gap_seconds("0 9-17 * * MON-FRI") == 64 * hour  # Friday 17:00 to Monday 09:00
    assert longest_gap_seconds("0 0 1 * *") == 31 * 24 * hour
    assert longest_gap_seconds("0 0 1 * MON") == 7 * 24 * hour  # both day fields set: either day runs
    assert longest_gap_seconds("0 0 29 FEB *") == (366 + 3 * 365) * 24 * hour  # leap years only
    assert longest_gap_seconds("0 0 31 2 *") is None  # never


def tasks_rules(env: str) -> list[dict[str, object]]:
    plan = resolve(load_platform(TASKS), "specs/tasks.yaml")
    (environment,) = (e for e in plan.on("kubernetes") if e.name == env)
    return [rule for group in r.rule_groups(environment) for rule in group["rules"]]


def test_each_cron_job_gets_a_ticket_when_two_runs_in_a_row_did_not_succeed() -> None:
    """billing-sync runs nightly, may start 15 minutes late and run 30: two days and 45 minutes without a success."""
    (rule,) = (rule for rule in tasks_rules("production") if rule.get("alert") == "CronJobSuccessOverdue")
    assert rule["labels"] == {"severity": "warning", "service": "billing-sync", "environment": "production"}
    assert rule["expr"] == ('time() - (kube_cronjob_status_last_successful_time{namespace="tasks",cronjob="billing-sync"}'
                            ' or kube_cronjob_created{namespace="tasks",cronjob="billing-sync"}) > 175500')
    assert "48h45m" in str(rule["annotations"])


@pytest.mark.slow  # promtool evaluates the whole production rule tests: about 10 s
def test_the_overdue_alert_passes_its_promtool_tests_and_has_a_runbook(tmp_path: Path) -> None:
    files = write_tree(resolve(load_platform(TASKS), "specs/tasks.yaml"), tmp_path)
    tests = yaml.safe_load(files["monitoring/production/rules.test.yml"].read_text())["tests"]
    assert len([test for test in tests if "CronJobSuccessOverdue" in test["name"]]) == 3
    result = promtool("test", "rules", files["monitoring/production/rules.test.yml"])
    assert_ok(result)
    page = SPECS.parent / "generated/tasks/docs/runbooks/cron-job-success-overdue.md"
    assert 'get cronjob "$service"' in page.read_text()
