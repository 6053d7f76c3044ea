"""Alerts reach people, proven with real servers: Debian's Prometheus and Alertmanager run the generated scrape
config, rules and routing on 127.0.0.1, scraping stand-in services, and a webhook receiver this test owns hears
what Alertmanager sends.

Only what cannot exist here is changed, in copies: Kubernetes pod discovery becomes the static targets of the pods it
would report (`stubbed_config`, as `promtool check config` runs it), the Alertmanager address becomes the one this
test started, and the receivers' secret files (mounted by kube-prometheus-stack under /etc/alertmanager/secrets) are
read from a scratch folder holding this test's webhook URLs; a webhook's `url_file`, which Debian's Alertmanager 0.25
predates (0.26 reads it), becomes the `url` it would hold. Scrape and evaluation intervals and Alertmanager's
group_wait are shortened, since the test waits for them; every `for:`, every route and every receiver stays as
generated.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from bizinfra.pipeline import build_tree
from bizinfra.plan import PlatformPlan, resolve
from bizinfra.spec.loader import Spec, load_platform
from bizinfra.spec.quantities import seconds
from bizinfra.targets.monitoring import metrics as m
from bizinfra.targets.monitoring import rules as r
from bizinfra.validate.prometheus import stubbed_config
from tests.support import BUNDLED_SPEC, require_tool
from tests.support.monitoring import discovered_pods

pytestmark = pytest.mark.slow

ENVIRONMENT = "production"
SECRETS_MOUNT = "/etc/alertmanager/secrets/"  # where kube-prometheus-stack mounts alertmanagerSpec.secrets
INTERVAL = "2s"  # scrape and rule evaluation, in the test only
GROUP_WAIT = "1s"  # Alertmanager's wait before a new group's first notification, in the test only (30 s generated)
PAGE_ALERT = "ErrorBudgetFastBurn"
# Every wait is bounded: the longest is ServiceDown's `for:` plus a scrape, an evaluation and Alertmanager's
# group_wait, with room for a loaded machine.
SLACK_SECONDS = 90


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the stand-in services -----------------------------------------------------------------------------------------


@dataclass
class Traffic:
    """A service's request counters, advanced by simulated traffic each time they are read: `rate` requests a
    second, `failing` of them answered 503, all within 50 ms."""

    rate: float = 10.0
    failing: float = 0.0
    ok: float = 0.0
    errors: float = 0.0
    at: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def set(self, rate: float, failing: float) -> None:
        with self.lock:
            self._advance()
            self.rate, self.failing = rate, failing

    def _advance(self) -> None:
        now = time.monotonic()
        handled, self.at = self.rate * (now - self.at), now
        self.errors += handled * self.failing
        self.ok += handled * (1 - self.failing)

    def exposition(self) -> str:
        with self.lock:
            self._advance()
            ok, errors = self.ok, self.errors
        total = ok + errors
        lines = [f"# TYPE {m.REQUESTS} counter",
                 f'{m.REQUESTS}{{{m.STATUS}="200"}} {ok:.3f}',
                 f'{m.REQUESTS}{{{m.STATUS}="503"}} {errors:.3f}']
        histogram = m.REQUEST_DURATION_BUCKET.removesuffix("_bucket")
        lines.append(f"# TYPE {histogram} histogram")
        lines += [f'{m.REQUEST_DURATION_BUCKET}{{le="{le}"}} {total:.3f}' for le in ("0.05", "0.5", "1", "+Inf")]
        lines += [f"{histogram}_sum {total * 0.02:.3f}", f"{histogram}_count {total:.3f}"]
        return "\n".join(lines) + "\n"


class StandIn:
    """One service: answers its metrics path on its port, until stopped (then scrapes are refused: `up` is 0)."""

    def __init__(self, port: int, metrics_path: str) -> None:
        self.traffic = Traffic()
        traffic = self.traffic

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = traffic.exposition().encode() if self.path == metrics_path else b""
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Receiver:
    """The webhook every receiver of the routing posts to, at /<receiver name>: what arrived, in order."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append((self.path.strip("/"), json.loads(body or b"{}")))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def notifications(self, alert: str, status: str = "firing") -> list[str]:
        """The receivers that were told `alert` is in `status`."""
        return [path for path, body in self.received for one in body.get("alerts", [])
                if one["labels"].get("alertname") == alert and one["status"] == status]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- the platform and its generated files --------------------------------------------------------------------------


def platform_on_free_ports(tmp_path: Path) -> tuple[PlatformPlan, dict[str, bytes]]:
    """The bundled business app, its services on free ports (their pods are this test's stand-ins) and every
    receiver a webhook this test owns: pages, tickets and the heartbeat each to their own."""
    spec = yaml.safe_load(BUNDLED_SPEC.read_text())
    for service in spec["services"].values():
        service["port"] = free_port()
    spec["monitoring"].update(
        receivers={"on-call": {"kind": "webhook"}, "team-chat": {"kind": "webhook"},
                   "dead-mans-switch": {"kind": "webhook"}},
        pages=["on-call"], tickets=["team-chat"], heartbeat="dead-mans-switch")
    path = tmp_path / "business-app.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    platform = load_platform(path, shown_as="specs/business-app.yaml")
    plan = resolve(platform, "specs/business-app.yaml")
    return plan, build_tree([Spec("specs/business-app.yaml", platform)]).files


def secret_files(config: Any) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(receiver name, setting, the block holding it) for every `*_file` setting of every receiver."""
    for receiver in config.get("receivers") or []:
        for key, blocks in receiver.items():
            for block in blocks if isinstance(blocks, list) and key.endswith("_configs") else []:
                for setting, value in block.items():
                    if setting.endswith("_file") and str(value).startswith(SECRETS_MOUNT):
                        yield receiver["name"], setting, block


def alertmanager_config(files: dict[str, bytes], folder: Path, receiver: Receiver) -> Path:
    """The generated routing, its secret files moved from the cluster's mount to `folder/secrets`, each holding the
    URL of this test's webhook for its receiver."""
    config = yaml.safe_load(files[f"business-app/monitoring/{ENVIRONMENT}/alertmanager.yml"])
    found = list(secret_files(config))
    assert found, "every receiver reads its URL from a mounted secret file"
    for name, setting, block in found:
        url = f"{receiver.url}/{name}"
        if setting == "url_file":  # webhooks read their URL from a file from Alertmanager 0.26; Debian's is 0.25
            del block[setting]
            block["url"] = url
            continue
        relocated = folder / "secrets" / block[setting].removeprefix(SECRETS_MOUNT)
        relocated.parent.mkdir(parents=True, exist_ok=True)
        relocated.write_text(url)
        block[setting] = str(relocated)
    shorten_group_waits(config["route"])
    path = folder / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def shorten_group_waits(route: dict[str, Any]) -> None:
    """Each group_wait of the routing tree longer than GROUP_WAIT set to it: the test waits out one per new group
    (a page, ServiceDown) and proves who is told, not when."""
    wait = route.get("group_wait", "0s")
    if wait != "0s" and seconds(wait) > seconds(GROUP_WAIT):
        route["group_wait"] = GROUP_WAIT
    for child in route.get("routes") or []:
        shorten_group_waits(child)


def prometheus_config(plan: PlatformPlan, files: dict[str, bytes], folder: Path, alertmanager_port: int) -> Path:
    """The generated scrape config and rules, discovery replaced by the pods it would find (on 127.0.0.1)."""
    env = next(env for env in plan.environments if env.name == ENVIRONMENT)
    monitoring = f"business-app/monitoring/{ENVIRONMENT}"
    for name in ("prometheus.yml", "rules.yml"):
        (folder / name).write_bytes(files[f"{monitoring}/{name}"])
    pods = [{**group, "targets": ["127.0.0.1:" + group["targets"][0].split(":")[1]]} for group in discovered_pods(env)]
    stub = stubbed_config(folder / "prometheus.yml", pods)
    config = yaml.safe_load(stub.read_text())
    config["global"].update(scrape_interval=INTERVAL, evaluation_interval=INTERVAL)
    config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{alertmanager_port}"]}]}]}
    stub.write_text(yaml.safe_dump(config, sort_keys=False))
    return stub


# -- the servers -------------------------------------------------------------------------------------------------


class Server:
    """A Debian server binary on loopback, its output kept for the failure message, always stopped."""

    def __init__(self, command: list[str], folder: Path, ready_url: str) -> None:
        self.log = (folder / f"{Path(command[0]).name}.log").open("w")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, cwd=folder)
        self.log_path = Path(self.log.name)
        wait_for(lambda: answers(ready_url), 30, f"{command[0]} to start:\n{self.output()}")

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text()[-4000:]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def get(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.loads(response.read() or b"null")
    except (OSError, ValueError):
        return None


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    pytest.fail(f"waited {seconds:.0f} s for {what}")


@pytest.fixture
def running(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Stand-ins for every service, the webhook receiver, Alertmanager and Prometheus, on 127.0.0.1."""
    prometheus, alertmanager = require_tool("prometheus"), require_tool("prometheus-alertmanager")
    plan, files = platform_on_free_ports(tmp_path)
    env = next(env for env in plan.environments if env.name == ENVIRONMENT)
    stand_ins = {service.name: StandIn(service.port, service.metrics_path) for service in env.services}
    receiver = Receiver()
    started: list[Server] = []
    try:
        am_port, prom_port = free_port(), free_port()
        am_config = alertmanager_config(files, tmp_path, receiver)
        started.append(Server([alertmanager, f"--config.file={am_config}", f"--storage.path={tmp_path / 'am'}",
                               f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="],
                              tmp_path, f"http://127.0.0.1:{am_port}/api/v2/status"))
        prom_config = prometheus_config(plan, files, tmp_path, am_port)
        started.append(Server([prometheus, f"--config.file={prom_config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                               f"--web.listen-address=127.0.0.1:{prom_port}"],
                              tmp_path, f"http://127.0.0.1:{prom_port}/-/ready"))
        yield {"env": env, "stand_ins": stand_ins, "receiver": receiver, "servers": started,
               "alertmanager": f"http://127.0.0.1:{am_port}", "prometheus": f"http://127.0.0.1:{prom_port}"}
    finally:
        for server in reversed(started):
            server.stop()
        receiver.stop()
        for stand_in in stand_ins.values():
            if stand_in.server.socket.fileno() != -1:
                stand_in.stop()


def alertmanager_alerts(base: str, name: str, **state: str) -> list[dict[str, Any]]:
    query = "&".join(f"{key}={value}" for key, value in state.items())
    alerts = get(f"{base}/api/v2/alerts?{query}") or []
    return [alert for alert in alerts if alert["labels"].get("alertname") == name]


def test_a_failing_service_pages_resolves_and_when_down_pages_only_as_down(running: dict[str, Any]) -> None:
    env, receiver, am = running["env"], running["receiver"], running["alertmanager"]
    service = env.services[0].name
    servers = "\n".join(server.output() for server in running["servers"])

    # The heartbeat: Watchdog always fires, and reaches the dead man's switch.
    wait_for(lambda: "dead-mans-switch" in receiver.notifications("Watchdog"), SLACK_SECONDS,
             f"the Watchdog heartbeat; received {receiver.received}\n{servers}")

    # Half of one service's requests fail: the fast burn pages, routed to the pages receiver only.
    running["stand_ins"][service].traffic.set(rate=10, failing=0.5)
    wait_for(lambda: receiver.notifications(PAGE_ALERT), SLACK_SECONDS, f"{PAGE_ALERT} to page; received "
             f"{receiver.received}")
    assert set(receiver.notifications(PAGE_ALERT)) == {"on-call"}

    # Healthy again, with far more traffic than failed: the alert resolves.
    running["stand_ins"][service].traffic.set(rate=1e7, failing=0)
    wait_for(lambda: not alertmanager_alerts(am, PAGE_ALERT, active="true", silenced="true", inhibited="true"),
             SLACK_SECONDS, f"{PAGE_ALERT} to resolve")

    # Failing, then gone: ServiceDown pages once its `for:` has passed, and inhibits the error alerts that are
    # still firing on the last five minutes of data.
    running["stand_ins"][service].traffic.set(rate=1e7, failing=0.5)
    wait_for(lambda: alertmanager_alerts(am, PAGE_ALERT, active="true"), SLACK_SECONDS, f"{PAGE_ALERT} again")
    running["stand_ins"][service].stop()
    down_for = float(seconds(r.SERVICE_DOWN_FOR))
    wait_for(lambda: "on-call" in receiver.notifications("ServiceDown"), down_for + SLACK_SECONDS,
             f"ServiceDown to page; received {receiver.received}")
    inhibited = alertmanager_alerts(am, PAGE_ALERT, active="false", inhibited="true")
    assert inhibited and all(alert["status"]["inhibitedBy"] for alert in inhibited), (
        f"{PAGE_ALERT} of a service that is down must be inhibited by ServiceDown: "
        f"{alertmanager_alerts(am, PAGE_ALERT)}")
    pages_after_down = [path for path, body in receiver.received
                        if any(a["labels"].get("alertname") == "ServiceDown" for a in body.get("alerts", []))]
    assert set(pages_after_down) == {"on-call"}
