"""`promtool test rules` files generated with the rules: synthetic series showing that each alert fires
once its condition has held for its `for:` duration, and stays silent just below its threshold.

Expected alerts are built from the generated rules themselves (labels, and annotations with their
templates expanded), so the test also proves that every annotation template renders.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from bizinfra.plan import EnvironmentPlan, ServicePlan
from bizinfra.spec.quantities import seconds
from bizinfra.targets.monitoring import metrics as m
from bizinfra.targets.monitoring import rules as r

TestGroup = dict[str, Any]
Series = dict[str, str]

REQUESTS_PER_MINUTE = Decimal(1000)
ABOVE = Decimal("1.05")  # "holds": 5% above a threshold
BELOW = Decimal("0.95")  # "just below": 5% under it
BURN_CHECK = 35  # minutes: when burn-rate alerts are checked
RESET_BURST, RESET_CLEAN = 20, 150  # the page reset scenario: burst ratio in budgets, clean minutes before it
RATE_ONSET = 1  # minutes: a 1m-spaced counter has two samples, hence a rate, from the second minute on
POD_SUFFIX = "5d8f7c9b6-x2x4z"  # a ReplicaSet template hash and a pod suffix, as Kubernetes makes them


def rule_tests(env: EnvironmentPlan) -> dict[str, Any]:
    stores = {"postgres": database_tests, "redis": redis_tests}
    web = bool(web_services(env))  # the request alerts' tests feed a web service's series
    tests = [*(error_rate_tests(env) if web else []), *(latency_tests(env) if web else []),
             *(pod_tests(env) if web else []), *(request_metrics_tests(env) if web else []),
             *service_down_tests(env), *(burn_rate_tests(env) if web else []), *cron_job_tests(env),
             *[test for store in env.datastores for test in stores[store.engine](env, store.name)],
             *watchdog_tests(env)]
    return {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "group_eval_order": [group["name"] for group in r.rule_groups(env)],  # recording rules first
        "tests": tests,
    }


# -- template expansion, as Prometheus' template functions do it ----------------------------------------------


def go_general(value: float) -> str:
    """Go's `%.4g`."""
    return format(value, ".4g")


def humanize(value: float) -> str:
    """Prometheus' `humanize` (template/template.go): 4 significant digits and an SI prefix."""
    prefix = ""
    if value != 0 and abs(value) >= 1:
        for candidate in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(value) < 1000:
                break
            prefix, value = candidate, value / 1000
    elif value != 0:
        for candidate in ("m", "u", "n", "p", "f", "a", "z", "y"):
            if abs(value) >= 1:
                break
            prefix, value = candidate, value * 1000
    return go_general(value) + prefix


def humanize_percentage(value: float) -> str:
    return go_general(value * 100) + "%"


def expand(template: str, labels: dict[str, str], value: float | None) -> str:
    text = template
    if value is not None:
        text = text.replace("{{ $value | humanizePercentage }}", humanize_percentage(value))
        text = text.replace("{{ $value | humanize }}", humanize(value))
    text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda match: labels[match[1]], text)
    if "{{" in text:
        raise ValueError(f"no synthetic expansion for the template in {template!r}")
    return text


def expected(rule: dict[str, Any], labels: dict[str, str], value: float | None = None) -> dict[str, Any]:
    """The alert promtool must report: the series' labels under the rule's, its annotations expanded."""
    return {"exp_labels": {**labels, **rule["labels"]},  # Prometheus expands `$labels` from the series' labels
            "exp_annotations": {k: expand(v, labels, value) for k, v in rule["annotations"].items()}}


# -- synthetic series -----------------------------------------------------------------------------------------


def minutes(duration: str) -> int:
    return int(seconds(duration) // 60)


def counter(*segments: tuple[Decimal, int]) -> str:
    """A counter from 0 growing by `increase` each minute for `length` minutes, segment after segment.

    promtool expands `start+stepxN` by adding the step N times in float64, so a segment's last value can land a
    hair away from its exact sum; the next segment starts from that float, never below it, or `rate()` would
    read a counter reset (seen with a 99.9999% SLO's tiny error counts)."""
    items, value = ["0"], 0.0
    for increase, length in segments:
        step = float(increase)
        value += step
        items.append(f"{r.number(value)}+{r.number(increase)}x{length - 1}")
        for _ in range(length - 1):
            value += step
    return " ".join(items)


def requests(env: EnvironmentPlan, service: str | None, *phases: tuple[Decimal, int]) -> list[Series]:
    """Request counters answering `ratio` of requests with 503 for `length` minutes, phase after phase;
    from a pod without the service label when `service` is None."""
    def series(status: str, share: Callable[[Decimal], Decimal]) -> Series:
        labels = r.selector(m.REQUESTS, namespace=env.namespace, **({m.SERVICE: service} if service else {}),
                            status=status)
        return {"series": labels, "values": counter(*((REQUESTS_PER_MINUTE * share(ratio), n) for ratio, n in phases))}
    return [series("200", lambda ratio: 1 - ratio), series("503", lambda ratio: ratio)]


def check(alertname: str, at: int, alerts: Iterable[dict[str, Any]] = ()) -> dict[str, Any]:
    return {"eval_time": f"{at}m", "alertname": alertname, "exp_alerts": list(alerts)}


def test_group(name: str, series: list[Series], checks: list[dict[str, Any]]) -> TestGroup:
    return {"name": name, "interval": "1m", "input_series": series, "alert_rule_test": checks}


def sampled(env: EnvironmentPlan) -> tuple[ServicePlan, tuple[ServicePlan, ...]]:
    """The services the tests of the rules over all services feed: the first by name, broken, and the second,
    healthy beside it, showing that each service's alert reads its own series only. Those rules select the
    namespace, never a service, so two services show what a thousand would, and the tests keep their size."""
    web = web_services(env)
    return web[0], web[1:2]


def web_services(env: EnvironmentPlan) -> tuple[ServicePlan, ...]:
    """The services the request alerts are about: those that take requests."""
    return tuple(service for service in env.services if service.takes_requests)


def service_labels(env: EnvironmentPlan, service: ServicePlan) -> dict[str, str]:
    return {m.NAMESPACE: env.namespace, m.SERVICE: service.name}


def traffic(env: EnvironmentPlan, broken: Decimal, healthy: Decimal, length: int) -> list[Series]:
    """Requests of the sampled services for `length` minutes, failing at ratio `broken` and `healthy`."""
    first, others = sampled(env)
    return [*requests(env, first.name, (broken, length)),
            *(series for other in others for series in requests(env, other.name, (healthy, length)))]


# -- alerts over all services ---------------------------------------------------------------------------------


def error_rate_tests(env: EnvironmentPlan) -> list[TestGroup]:
    threshold = Decimal(str(env.slo.error_rate))
    fire_at = RATE_ONSET + minutes(r.ERROR_RATE_FOR)
    rule, (broken, _) = r.high_error_rate(env), sampled(env)
    alert = expected(rule, service_labels(env, broken), float(threshold * ABOVE))
    unlabelled = requests(env, None, (threshold * ABOVE, fire_at + 5))  # no service to name: not alerted on
    return [
        test_group(f"HighErrorRate fires after {r.ERROR_RATE_FOR} above {r.percent(threshold)}",
                   [*traffic(env, threshold * ABOVE, Decimal(0), fire_at + 5), *unlabelled],
                   [check("HighErrorRate", fire_at - 1), check("HighErrorRate", fire_at, [alert])]),
        test_group(f"HighErrorRate stays silent just below {r.percent(threshold)}",
                   traffic(env, threshold * BELOW, threshold * BELOW, fire_at + 10),
                   [check("HighErrorRate", fire_at), check("HighErrorRate", fire_at + 10)]),
    ]


def latency_series(env: EnvironmentPlan, service: str, within_threshold: Decimal) -> list[Series]:
    """Requests per minute by latency bucket: half within half the threshold, `within_threshold` within it,
    all within twice it. Services must have a bucket bound at the threshold for the p95 to be exact there."""
    limit = Decimal(str(env.slo.latency_p95_seconds))
    cumulative = {r.number(limit / 2): Decimal(500), r.number(limit): within_threshold,
                  r.number(limit * 2): REQUESTS_PER_MINUTE, "+Inf": REQUESTS_PER_MINUTE}
    return [{"series": r.selector(m.REQUEST_DURATION_BUCKET, namespace=env.namespace, service=service, le=le),
             "values": counter((count, minutes(r.LATENCY_FOR) + 15))} for le, count in cumulative.items()]


def latency_tests(env: EnvironmentPlan) -> list[TestGroup]:
    limit = env.slo.latency_p95_seconds
    fire_at = RATE_ONSET + minutes(r.LATENCY_FOR)
    slow, fast = Decimal(940), Decimal(960)  # 94% or 96% of requests within the threshold
    p95 = limit + limit * float((950 - slow) / (1000 - slow))  # histogram_quantile's linear interpolation
    broken, healthy = sampled(env)
    alert = expected(r.high_latency(env), service_labels(env, broken), p95)

    def series(first: Decimal, others: Decimal) -> list[Series]:
        return [*latency_series(env, broken.name, first),
                *(series for other in healthy for series in latency_series(env, other.name, others))]
    return [
        test_group(f"HighLatency fires after {r.LATENCY_FOR} with p95 above {r.duration_text(limit)}",
                   series(slow, fast), [check("HighLatency", fire_at - 1), check("HighLatency", fire_at, [alert])]),
        test_group(f"HighLatency stays silent with p95 just under {r.duration_text(limit)}",
                   series(fast, fast), [check("HighLatency", fire_at), check("HighLatency", fire_at + 10)]),
    ]


def pod_tests(env: EnvironmentPlan) -> list[TestGroup]:
    """Every pod of the sampled services (both slots of a blue-green one), and pods in the namespace the rule
    must ignore, never ready: a CronJob's finished Job's and an exporter's."""
    fire_at = minutes(r.POD_NOT_READY_FOR)
    broken, healthy = sampled(env)
    pods = [(service, f"{deployment}-{POD_SUFFIX}") for service in (broken, *healthy)
            for deployment in service.deployments]
    outsiders = {f"{env.platform}-backup-29000000": "x2x4z", m.exporter(env.platform): POD_SUFFIX}
    ignored = [f"{owner}-{suffix}" for owner, suffix in outsiders.items()
               if owner not in {service.name for service in env.services}]  # the names must not be a service's

    def series(unready: str, ready: str = "") -> list[Series]:
        return [*({"series": r.selector(m.POD_READY, namespace=env.namespace, pod=pod, condition="false"),
                   "values": unready if service is broken else (ready or unready)} for service, pod in pods),
                *({"series": r.selector(m.POD_READY, namespace=env.namespace, pod=pod, condition="false"),
                   "values": f"1x{fire_at + 5}"} for pod in ignored)]
    rule = r.pod_not_ready(env)
    alerts = [expected(rule, {m.NAMESPACE: env.namespace, m.POD: pod, "condition": "false", m.SERVICE: service.name})
              for service, pod in pods if service is broken]
    return [
        test_group(f"PodNotReady fires when a pod is not ready for {r.POD_NOT_READY_FOR}",
                   series(f"1x{fire_at + 5}", f"0x{fire_at + 5}"),
                   [check("PodNotReady", fire_at - 1), check("PodNotReady", fire_at, alerts)]),
        test_group(f"PodNotReady stays silent for a pod ready again within {r.POD_NOT_READY_FOR}",
                   series(f"1x{fire_at - 2} 0x{fire_at + 5}"),
                   [check("PodNotReady", fire_at), check("PodNotReady", fire_at + 5)]),
    ]


def request_metrics_tests(env: EnvironmentPlan) -> list[TestGroup]:
    """The first service answers scrapes: without request metrics it pages, with both the counter and the histogram
    it does not, and neither does the healthy second service nor an exporter scraped beside them."""
    fire_at = minutes(r.REQUEST_METRICS_MISSING_FOR)
    length = fire_at + 5
    broken, healthy = sampled(env)

    def scraped(service: str) -> Series:
        return {"series": r.selector(m.UP, namespace=env.namespace, service=service, pod=f"{service}-{POD_SUFFIX}"),
                "values": f"1x{length}"}

    def exposed(service: str) -> list[Series]:
        return [*requests(env, service, (Decimal(0), length)),
                {"series": r.selector(m.REQUEST_DURATION_BUCKET, namespace=env.namespace, service=service, le="+Inf"),
                 "values": counter((REQUESTS_PER_MINUTE, length))}]
    others = [*(scraped(exporter.name) for exporter in env.exporters[:1]),  # no request metrics, and no alert
              *(series for other in healthy for series in (scraped(other.name), *exposed(other.name)))]
    alert = expected(r.request_metrics_missing(env), service_labels(env, broken))
    return [
        test_group(f"RequestMetricsMissing fires after {r.REQUEST_METRICS_MISSING_FOR} scraped without request metrics",
                   [scraped(broken.name), *others],
                   [check("RequestMetricsMissing", fire_at - 1), check("RequestMetricsMissing", fire_at, [alert])]),
        test_group("RequestMetricsMissing fires when the latency histogram alone is missing",
                   [scraped(broken.name), *requests(env, broken.name, (Decimal(0), length)), *others],
                   [check("RequestMetricsMissing", fire_at, [alert])]),
        test_group("RequestMetricsMissing stays silent while the service exposes its request metrics",
                   [scraped(broken.name), *exposed(broken.name), *others],
                   [check("RequestMetricsMissing", fire_at + 5)]),
    ]


# -- per-service alerts ---------------------------------------------------------------------------------------


def service_down_tests(env: EnvironmentPlan) -> list[TestGroup]:
    """ServiceDown of the first service, from one function like every service's. Its two pods answer; one
    stops, and it stays silent; the other stops at minute `last`, and it fires its `for:` later. The other
    services' rules fire on any service without series (that is what `absent()` is for), so each of them
    answers with one pod throughout: the one line per service of these tests."""
    scraped = [service for service in env.services if service.scraped]
    if not scraped:
        return []
    first, down_for = scraped[0], minutes(r.SERVICE_DOWN_FOR)
    last = down_for + 5  # the first pod has been silent for longer than `for:` by then
    length = last + down_for + 5

    def up(pod: int, values: str) -> Series:
        name = f"{first.deployments[0]}-{POD_SUFFIX}{pod}"
        return {"series": r.selector(m.UP, namespace=env.namespace, service=first.name, pod=name), "values": values}
    answering = [{"series": r.selector(m.UP, namespace=env.namespace, service=service.name), "values": f"1x{length}"}
                 for service in scraped[1:]]
    series = [up(0, f"0x{length}"), up(1, f"1x{last - 1} 0x{length - last}"), *answering]
    rule = r.service_down(env, first)
    return [test_group(f"ServiceDown fires {r.SERVICE_DOWN_FOR} after the last pod of {first.name} stops answering",
                       series, [check("ServiceDown", last - 1), check("ServiceDown", last + down_for - 1),
                                check("ServiceDown", last + down_for, [expected(rule, {})])])]


def cron_job_tests(env: EnvironmentPlan) -> list[TestGroup]:
    """A run of the first cron job fails: CronJobFailed fires at once, naming the job. A run that succeeded, and a
    failed Job that no cron job of the platform made (a database bootstrap's), leave it silent."""
    jobs = r.cron_jobs(env)
    if not jobs:
        return []
    run = f"{jobs[0].name}-29000000"
    outsider = f"{env.platform}-bootstrap"

    def failed(job: str, values: str) -> Series:
        return {"series": r.selector(m.JOB_FAILED, namespace=env.namespace, job_name=job, reason="BackoffLimitExceeded"),
                "values": values}
    alert = expected(r.cron_job_failed(env), {m.NAMESPACE: env.namespace, "job_name": run,
                                               "reason": "BackoffLimitExceeded", m.SERVICE: jobs[0].name})
    return [
        test_group("CronJobFailed fires when a scheduled run fails", [failed(run, "0 0 1x5"), failed(outsider, "1x5")],
                   [check("CronJobFailed", 1), check("CronJobFailed", 2, [alert])]),
        test_group("CronJobFailed stays silent while runs succeed", [failed(run, "0x5")], [check("CronJobFailed", 4)]),
        *(test for job in jobs if r.overdue_after_seconds(job) is not None for test in overdue_tests(env, job)),
    ]


def overdue_tests(env: EnvironmentPlan, job: ServicePlan) -> list[TestGroup]:
    """The test starts at Unix time 0, so a time before it is negative: the last success (or, with none, the
    creation) is set two minutes short of overdue, and the alert fires between minute 1 and minute 3. A recent
    success holds it back however old the CronJob is."""
    overdue = r.overdue_after_seconds(job)
    assert overdue is not None
    labels = {m.NAMESPACE: env.namespace, "cronjob": job.name}
    rule = r.cron_job_success_overdue(env, job)

    def at(metric: str, unix_time: int) -> Series:
        return {"series": r.selector(metric, **labels), "values": f"{unix_time}x5"}
    fires = [check(rule["alert"], 1), check(rule["alert"], 3, [expected(rule, labels)])]
    return [
        test_group(f"CronJobSuccessOverdue fires when {job.name} last succeeded over {r.hours_text(overdue)} ago",
                   [at(m.CRONJOB_LAST_SUCCESS, 120 - overdue), at(m.CRONJOB_CREATED, -10 * overdue)], fires),
        test_group(f"CronJobSuccessOverdue fires when {job.name} never succeeded since it was created",
                   [at(m.CRONJOB_CREATED, 120 - overdue)], fires),
        test_group(f"CronJobSuccessOverdue stays silent while {job.name} succeeds on schedule",
                   [at(m.CRONJOB_LAST_SUCCESS, -60), at(m.CRONJOB_CREATED, -10 * overdue)], [check(rule["alert"], 3)]),
    ]


# -- burn-rate alerts -----------------------------------------------------------------------------------------


def burn_rate_tests(env: EnvironmentPlan) -> list[TestGroup]:
    """Per window pair: an error ratio held 5% above factor x budget fires it; 5% under the alert's lowest
    factor stays silent; and (page) a burst that has stopped no longer pages although the long window
    still remembers it. A held ratio is the same over every window, so BURN_CHECK (the longest short
    window the page reads, plus 5m) shows the thresholds without evaluating days of samples. Ratios above
    100% cannot happen, so a pair whose threshold is above 1/1.05 (an SLO below about 93%) is not tested."""
    budget = r.error_budget(env.slo)
    broken, _ = sampled(env)
    tests = []
    for alert in m.BURN_RATE_ALERTS:
        alerts = [expected(r.burn_rate_alert(env, alert), service_labels(env, broken))]
        for window in alert.windows:
            ratio = window.factor * budget * ABOVE
            if ratio >= 1:
                continue
            checks = [check(alert.name, BURN_CHECK, alerts)]
            if alert is m.SLOW_BURN:  # a ticket-level burn must not page
                checks.append(check(m.FAST_BURN.name, BURN_CHECK))
            tests.append(test_group(
                f"{alert.name} fires at {r.number(ABOVE)} x {r.number(window.factor)}x the error budget "
                f"over {window.long} and {window.short}",
                traffic(env, ratio, Decimal(0), BURN_CHECK + 1), checks))
        lowest = min(window.factor for window in alert.windows)
        just_under = lowest * budget * BELOW
        tests.append(test_group(
            f"{alert.name} stays silent just under {r.number(lowest)}x the error budget",
            traffic(env, just_under, just_under, BURN_CHECK + 1), [check(alert.name, BURN_CHECK)]))
    return tests + page_reset_test(env)


def page_reset_test(env: EnvironmentPlan) -> list[TestGroup]:
    """Clean traffic, then an hour failing at RESET_BURST x the budget, then calm. 50 minutes in, the 1h
    window holds 50/60 of the burst (above 14.4x): it pages. 10 minutes after the burst, the 1h window
    still does, but the 5m one is clean: it stops paging. The clean start is long enough that the 6h
    window (60 burst minutes out of the CLEAN + 70 it holds) stays under 6x."""
    burst = RESET_BURST * r.error_budget(env.slo)
    if burst > 1:
        return []
    length = minutes(m.FAST_BURN.windows[0].long)
    broken, healthy = sampled(env)
    alerts = [expected(r.burn_rate_alert(env, m.FAST_BURN), service_labels(env, broken))]
    series = [*requests(env, broken.name, (Decimal(0), RESET_CLEAN), (burst, length), (Decimal(0), 15)),
              *(x for other in healthy for x in requests(env, other.name, (Decimal(0), RESET_CLEAN + length + 15)))]
    return [test_group(f"{m.FAST_BURN.name} stops paging once a burst is over",
                       series, [check(m.FAST_BURN.name, RESET_CLEAN + length - 10, alerts),
                                check(m.FAST_BURN.name, RESET_CLEAN + length + 10)])]


# -- data store alerts ----------------------------------------------------------------------------------------


def database_tests(env: EnvironmentPlan, store_name: str) -> list[TestGroup]:
    store = env.datastore(store_name)
    exporter = m.exporter(store.name)
    labels = {m.NAMESPACE: env.namespace, m.SERVICE: exporter, m.POD: f"{exporter}-{POD_SUFFIX}"}
    pg_up = r.selector(m.POSTGRES_UP, **labels)
    down_at, missing_at = minutes(r.DATABASE_DOWN_FOR), minutes(r.EXPORTER_MISSING_FOR)
    failed, missing = r.store_alert(env, store, "DatabaseConnectionFailed"), r.store_alert(env, store, "DatabaseMetricsMissing")
    other = {"series": r.selector(m.UP, **labels), "values": f"1x{missing_at + 5}"}
    # The other PostgreSQL stores' exporters report throughout: their own DatabaseMetricsMissing stays silent.
    reporting = [{"series": r.selector(m.POSTGRES_UP, namespace=env.namespace, service=m.exporter(name)),
                  "values": f"1x{missing_at + 5}"}
                 for name in (s.name for s in env.datastores if s.engine == "postgres" and s.name != store.name)]
    return [
        test_group(f"DatabaseConnectionFailed fires when {store.name} is unreachable for {r.DATABASE_DOWN_FOR}",
                   [{"series": pg_up, "values": f"0x{down_at + 5}"}],
                   [check(failed["alert"], down_at - 1),
                    check(failed["alert"], down_at, [expected(failed, labels)])]),
        test_group(f"DatabaseConnectionFailed stays silent when {store.name} is back within {r.DATABASE_DOWN_FOR}",
                   [{"series": pg_up, "values": f"0 1x{down_at + 5}"}],
                   [check(failed["alert"], down_at), check(failed["alert"], down_at + 5)]),
        test_group(f"DatabaseMetricsMissing fires when {store.name} has no exporter for {r.EXPORTER_MISSING_FOR}",
                   [other, *reporting], [check(missing["alert"], missing_at - 1),
                             check(missing["alert"], missing_at,
                                   [expected(missing, {m.NAMESPACE: env.namespace, m.SERVICE: exporter})])]),
        test_group(f"DatabaseMetricsMissing stays silent while {store.name}'s exporter reports",
                   [other, *reporting, {"series": pg_up, "values": f"1x{missing_at + 5}"}],
                   [check(missing["alert"], missing_at + 5)]),
    ]


def redis_tests(env: EnvironmentPlan, store_name: str) -> list[TestGroup]:
    """Each Redis alert fires once its condition has held for its `for:`, and stays silent just short of it; the
    replication alerts only where the store keeps replicas."""
    store = env.datastore(store_name)
    exporter = m.exporter(store.name)
    labels = {m.NAMESPACE: env.namespace, m.SERVICE: exporter, m.POD: f"{exporter}-{POD_SUFFIX}"}
    missing_at = minutes(r.EXPORTER_MISSING_FOR)
    other = {"series": r.selector(m.UP, **labels), "values": f"1x{missing_at + 5}"}
    # The other Redis stores' exporters report throughout: their own RedisMetricsMissing stays silent.
    reporting = [{"series": r.selector(m.REDIS_UP, namespace=env.namespace, service=m.exporter(name)),
                  "values": f"1x{missing_at + 5}"}
                 for name in (s.name for s in env.datastores if s.engine == "redis" and s.name != store.name)]
    tests = [
        *held(r.store_alert(env, store, "RedisConnectionFailed"), labels, r.REDIS_DOWN_FOR,
              {m.REDIS_UP: ("0", "1")}),
        test_group(f"RedisMetricsMissing fires when {store.name} has no exporter for {r.EXPORTER_MISSING_FOR}",
                   [other, *reporting],
                   [check("RedisMetricsMissing", missing_at - 1),
                    check("RedisMetricsMissing", missing_at,
                          [expected(r.store_alert(env, store, "RedisMetricsMissing"), {m.NAMESPACE: env.namespace,
                                                                          m.SERVICE: exporter})])]),
        test_group(f"RedisMetricsMissing stays silent while {store.name}'s exporter reports",
                   [other, *reporting, {"series": r.selector(m.REDIS_UP, **labels), "values": f"1x{missing_at + 5}"}],
                   [check("RedisMetricsMissing", missing_at + 5)]),
        *saturation_tests(r.store_alert(env, store, "RedisMemoryNearLimit"), labels, m.REDIS_MEMORY_USED,
                          [m.REDIS_MEMORY_MAX], Decimal(1_000_000_000)),
        test_group(f"RedisMemoryNearLimit stays silent on {store.name} without a maxmemory",
                   [{"series": r.selector(m.REDIS_MEMORY_USED, **labels), "values": f"1000x{missing_at + 5}"},
                    {"series": r.selector(m.REDIS_MEMORY_MAX, **labels), "values": f"0x{missing_at + 5}"}],
                   [check("RedisMemoryNearLimit", missing_at + 5)]),
        *saturation_tests(r.store_alert(env, store, "RedisConnectionsNearLimit"), labels, m.REDIS_CLIENTS,
                          [m.REDIS_MAX_CLIENTS, m.REDIS_CONFIG_MAX_CLIENTS], Decimal(10000)),
        *growth_tests(r.store_alert(env, store, "RedisEvictions"), labels, m.REDIS_EVICTED_KEYS, Decimal(10)),
        *growth_tests(r.store_alert(env, store, "RedisRejectedConnections"), labels, m.REDIS_REJECTED_CONNECTIONS, Decimal(1)),
    ]
    if store.replicas:
        tests += held(r.store_alert(env, store, "RedisReplicasMissing"), labels, r.REDIS_REPLICATION_FOR,
                      {m.REDIS_REPLICAS: (str(store.replicas - 1), str(store.replicas))})
        link = {**labels, "master_host": "10.0.8.10", "master_port": str(store.port)}
        tests += held(r.store_alert(env, store, "RedisMasterLinkDown"), link, r.REDIS_REPLICATION_FOR,
                      {m.REDIS_MASTER_LINK_UP: ("0", "1")})
    return tests


def held(rule: dict[str, Any], labels: dict[str, str], duration: str,
         gauges: dict[str, tuple[str, str]]) -> list[TestGroup]:
    """A gauge at its alerting value (`gauges`: metric -> (alerting, healthy)) fires the rule after `for:`; back
    to its healthy value within it, the rule stays silent."""
    alert, at = rule["alert"], minutes(duration)
    value = float(next(iter(gauges.values()))[0])

    def series(shape: Callable[[str, str], str]) -> list[Series]:
        return [{"series": r.selector(metric, **labels), "values": shape(bad, good)}
                for metric, (bad, good) in gauges.items()]
    return [
        test_group(f"{alert} fires after {duration}", series(lambda bad, _: f"{bad}x{at + 5}"),
                   [check(alert, at - 1), check(alert, at, [expected(rule, labels, value)])]),
        test_group(f"{alert} stays silent when it recovers within {duration}",
                   series(lambda bad, good: f"{bad} {good}x{at + 5}"), [check(alert, at), check(alert, at + 5)]),
    ]


def saturation_tests(rule: dict[str, Any], labels: dict[str, str], used: str, limits: list[str],
                     limit: Decimal) -> list[TestGroup]:
    """`used` held 5% above the near-limit share of the first of `limits` fires the rule after `for:`, and so does
    each other limit the rule falls back to when alone; 5% under the share, it stays silent."""
    alert, at = rule["alert"], minutes(r.REDIS_SATURATION_FOR)

    def series(share: Decimal, limit_metric: str) -> list[Series]:
        return [{"series": r.selector(used, **labels), "values": f"{r.number(limit * share)}x{at + 5}"},
                {"series": r.selector(limit_metric, **labels), "values": f"{r.number(limit)}x{at + 5}"}]
    above = r.NEAR_LIMIT * ABOVE
    fires = [test_group(f"{alert} fires after {r.REDIS_SATURATION_FOR} above {r.percent(r.NEAR_LIMIT)} of "
                        f"{limit_metric}", series(above, limit_metric),
                        [check(alert, at - 1), check(alert, at, [expected(rule, labels, float(above))])])
             for limit_metric in limits]
    return [*fires, test_group(f"{alert} stays silent just under {r.percent(r.NEAR_LIMIT)}",
                               series(r.NEAR_LIMIT * BELOW, limits[0]), [check(alert, at + 5)])]


def growth_tests(rule: dict[str, Any], labels: dict[str, str], counted: str, per_minute: Decimal) -> list[TestGroup]:
    """A counter growing by `per_minute` fires the rule `for:` after its rate exists, with the rate (per second, or
    the 5-minute increase) as its value; a counter that stands still does not."""
    alert = rule["alert"]
    at = RATE_ONSET + (minutes(rule["for"]) if "for" in rule else 0)
    length = at + 10
    per_second = "rate(" in rule["expr"]
    value = float(per_minute / 60) if per_second else float(per_minute * 5)
    return [
        test_group(f"{alert} fires while {counted} grows", [{"series": r.selector(counted, **labels),
                                                             "values": counter((per_minute, length))}],
                   [check(alert, at - 1), check(alert, at + 5, [expected(rule, labels, value)])]),
        test_group(f"{alert} stays silent while {counted} stands still",
                   [{"series": r.selector(counted, **labels), "values": f"7x{length}"}], [check(alert, at + 5)]),
    ]


def watchdog_tests(env: EnvironmentPlan) -> list[TestGroup]:
    """It fires from the first evaluation on, with no series at all."""
    rule = r.watchdog(env)
    return [test_group("Watchdog always fires", [], [check(r.WATCHDOG, 0, [expected(rule, {})]),
                                                     check(r.WATCHDOG, 60, [expected(rule, {})])])]
