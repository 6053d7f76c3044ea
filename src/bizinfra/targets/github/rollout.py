"""How a deploy job moves a Kubernetes environment to the release: the steps before the release is applied, the
rollout, and what runs once the public hosts passed their smoke tests (or did not).

Blue-green moves traffic in two phases, so the load balancer always has healthy targets:

1. every service's idle slot gets the release, rolls out and passes a smoke test through `kubectl port-forward`,
   while its Service still selects the live slot only;
2. phase one: each Service selects both slots, and waits until the new slot's pods are healthy load balancer
   targets; phase two: each Service selects the new slot only;
3. the public hosts pass their smoke tests (in the deploy job), the old slots drain, and only then scale to 0.

A restore step runs on failure and on cancellation (a job at its time limit is cancelled, and runs no `failure()`
step): it puts every Service back on the last good slot and never selects a slot without ready pods.

Why the pod readiness gate rather than polling target health with the AWS CLI: the namespace carries
`elbv2.k8s.aws/pod-readiness-gate-inject: enabled`, and the AWS Load Balancer Controller then keeps a pod of a
TargetGroupBinding's Service un-Ready until its target is healthy, so `kubectl rollout status` waits for exactly
that, with no target group ARN, pod IPs or extra IAM grant in the job. Its catch (the controller's
docs/deploy/pod_readiness_gate.md): the webhook adds the gate only when the pod is *created* while a Service with a
TargetGroupBinding selects it. The idle slot's pods are created while the Service selects the live slot only, so in
phase one a public service's new slot restarts (`kubectl rollout restart`) while both slots are selected: its
pods are re-created with the gate, old and new pods serve meanwhile, and the rollout completes only once every new
pod is a healthy target. A rolling Deployment's pods are always created while their Service selects them.
"""

from __future__ import annotations

from collections.abc import Mapping

from bizinfra.naming import DEREGISTRATION_DELAY_SECONDS, ROLLOUT_TIMEOUT_SECONDS, kubectl_duration
from bizinfra.plan import LIVE_SLOT, SLOT_LABEL, SLOTS, EnvironmentPlan, ServicePlan
from bizinfra.targets.github.steps import Document, script, within

ROLLOUT_TIMEOUT = kubectl_duration(ROLLOUT_TIMEOUT_SECONDS)
SMOKE_PORT = 18080  # the runner's end of `kubectl port-forward`: unprivileged, clear of common dev ports
RESTORE_STEP = "Restore the last good slots"
# After a cancellation (a job at its time limit is cancelled too) GitHub forcibly ends the steps that still run after
# 5 minutes (docs.github.com, "Workflow cancellation reference"), after signalling the cancelled step for up to 10 s.
# The restore's every wait shares one budget that fits in them, so it ends, and says what it left, before it is cut.
CANCELLATION_MINUTES = 5
RESTORE_BUDGET_SECONDS = 240
RESTORE_MINUTES = CANCELLATION_MINUTES  # on failure() too: the restore never needs more than its budget
RELEASED_STEP = "released"
# The condition type of the readiness gate the controller's webhook adds, `<this>/<TargetGroupBinding name>` (its
# docs/deploy/pod_readiness_gate.md).
TARGET_HEALTH_GATE = "target-health.elbv2.k8s.aws"


def before_release(env: EnvironmentPlan) -> list[Document]:
    """Blue-green: read which slot is live before the release is applied; rolling needs nothing."""
    return find_slots_steps(env) if env.rollout == "blue-green" else []


def roll_out(env: EnvironmentPlan, images: Mapping[str, str]) -> list[Document]:
    """After the release is applied: the rollout up to the public smoke tests. `images` are the release's
    images by service, without their tag."""
    return [*blue_green_steps(env, images), *rolling_steps(env)] if env.rollout == "blue-green" else rolling_steps(env)


def after_release(env: EnvironmentPlan) -> list[Document]:
    """After the public smoke tests: blue-green marks the release good, drains and scales down the old slots, and
    restores the last good slots if anything failed or the job was cancelled."""
    if env.rollout != "blue-green":
        return []
    return [script("The release is live", RELEASED, id=RELEASED_STEP), drain_old_slots(env), restore(env)]


# -- rolling ----------------------------------------------------------------------------------------------------

ROLLOUT = """\
kubectl rollout status "deployment/$DEPLOYMENT" --namespace "$NAMESPACE" --timeout "$TIMEOUT"
"""


def smoke_test_seconds(curl_options: str) -> int:
    """The worst case of a `curl --retry N --retry-delay D --max-time M`: N+1 tries of M seconds, N delays."""
    words = curl_options.split()
    retries, delay, limit = (int(words[words.index(flag) + 1]) for flag in ("--retry", "--retry-delay", "--max-time"))
    return (retries + 1) * limit + retries * delay


def rolling_steps(env: EnvironmentPlan) -> list[Document]:
    """The release's images were applied with the folder: each Deployment rolls, one new pod ready before an old one
    goes (`maxUnavailable: 0`; with the readiness gate, Ready means a healthy target). A rollout that fails or is
    cancelled leaves the old pods serving beside whatever new ones became ready: no outage, so there is no
    `kubectl rollout undo`, which would also undo to an older release when the same commit is deployed again, and
    would roll back configuration the folder already applied. The next deploy, or a revert commit, rolls forward.
    In blue-green, the workers roll this way (they take no traffic to switch); a cron job's next run takes the new
    image."""
    return [script(f"Roll out {service.name}", ROLLOUT, {"DEPLOYMENT": service.deployments[0],
                                                         "TIMEOUT": ROLLOUT_TIMEOUT}, **within(ROLLOUT_TIMEOUT_SECONDS))
            for service in env.services if service.deployments and not service.slotted]


def slotted(env: EnvironmentPlan) -> list[ServicePlan]:
    """The services blue-green switches: those with slots, behind a Service."""
    return list(env.slotted_services)


# -- blue-green: which slot is live -----------------------------------------------------------------------------


def slot_lookup(with_idle: bool = True) -> str:
    """Shell that reads the live slot from the Service's selector; a Service never switched serves LIVE_SLOT."""
    cases = ""
    for live, idle in zip(SLOTS, reversed(SLOTS), strict=True):
        also = f'; idle={idle}; idle_deployment="$DEPLOYMENT_{idle.upper()}"' if with_idle else ""
        cases += f'  {live}) live_deployment="$DEPLOYMENT_{live.upper()}"{also} ;;\n'
    return (
        'selected="$(kubectl get service "$SERVICE" --namespace "$NAMESPACE" --ignore-not-found \\\n'
        '  --output "jsonpath={.spec.selector.$SLOT_KEY}")"\n'
        'live="${selected:-$DEFAULT_SLOT}"\n'
        'case "$live" in\n'
        f"{cases}"
        '  *) echo "::error::Service $SERVICE selects the unknown slot \'$live\'"; exit 1 ;;\n'
        "esac\n"
    )


def slot_env(service: ServicePlan) -> dict[str, str]:
    return {
        "SERVICE": service.name,
        "SLOT_KEY": SLOT_LABEL.replace(".", "\\."),  # jsonpath escapes the dots of a label key
        "DEFAULT_SLOT": LIVE_SLOT,
        **{f"DEPLOYMENT_{slot.upper()}": name for slot, name in service.slots.items()},
    }


# A Service never switched selects every slot, so the idle slot's new pods would take traffic as soon as they are
# ready, before their smoke test: pin it to the live slot first. On a first deploy there is no Service yet (the
# release creates it, and both slots start with the release's image): nothing to pin, nothing live to keep.
FIND_SLOTS = """\
{lookup}exists="$(kubectl get service "$SERVICE" --namespace "$NAMESPACE" --ignore-not-found --output name)"
if [ -z "$selected" ] && [ -n "$exists" ]; then
  patch="$(printf '{{"spec":{{"selector":{{"%s":"%s"}}}}}}' "$SLOT_LABEL" "$live")"
  kubectl patch service "$SERVICE" --namespace "$NAMESPACE" --type merge --patch "$patch"
fi
live_replicas="$(kubectl get deployment "$live_deployment" --namespace "$NAMESPACE" --ignore-not-found \\
  --output "jsonpath={{.spec.replicas}}")"
{{
  echo "live=$live"
  echo "live-deployment=$live_deployment"
  echo "live-replicas=${{live_replicas:-0}}"
  echo "idle=$idle"
  echo "idle-deployment=$idle_deployment"
}} >> "$GITHUB_OUTPUT"
"""


def step_id(service: ServicePlan) -> str:
    return f"slot-{service.name}"


def slot_output(service: ServicePlan, name: str) -> str:
    return f"${{{{ steps.{step_id(service)}.outputs.{name} }}}}"


def find_slots_steps(env: EnvironmentPlan) -> list[Document]:
    """Before the release is applied: which slot keeps its image, which gets the release's."""
    return [script(f"Find the live slot of {s.name}", FIND_SLOTS.format(lookup=slot_lookup()),
                   {**slot_env(s), "SLOT_LABEL": SLOT_LABEL}, id=step_id(s)) for s in slotted(env)]


# -- blue-green: the idle slot, then two phases -----------------------------------------------------------------

# The idle slot starts as large as the live one has scaled, so the switch takes the load without waiting for the
# autoscaler; never below the service's minimum.
IDLE_DEPLOY = """\
replicas="$MIN_REPLICAS"
if [ "$LIVE_REPLICAS" -gt "$replicas" ]; then replicas="$LIVE_REPLICAS"; fi
kubectl set image "deployment/$DEPLOYMENT" "$CONTAINER=$IMAGE:sha-$GITHUB_SHA" --namespace "$NAMESPACE"
kubectl scale "deployment/$DEPLOYMENT" --replicas "$replicas" --namespace "$NAMESPACE"
kubectl rollout status "deployment/$DEPLOYMENT" --namespace "$NAMESPACE" --timeout "$TIMEOUT"
"""

IDLE_CURL = "--retry 10 --retry-delay 3 --max-time 10"
IDLE_SMOKE_TEST = f"""\
kubectl port-forward "deployment/$DEPLOYMENT" "$LOCAL_PORT:$PORT" --namespace "$NAMESPACE" > /dev/null &
forward=$!
trap 'kill "$forward"' EXIT
curl --fail --silent --show-error --retry-all-errors {IDLE_CURL} \\
  "http://127.0.0.1:$LOCAL_PORT$READINESS_PATH"
"""

# A merge patch's null removes the slot from the selector: the Service selects both slots' pods.
BOTH_SLOTS = """\
patch="$(printf '{"spec":{"selector":{"%s":null}}}' "$SLOT_LABEL")"
kubectl patch service "$SERVICE" --namespace "$NAMESPACE" --type merge --patch "$patch"
"""

# Re-created while their Service selects them, the new slot's pods get the load balancer's readiness gate. The
# controller's pod webhook fails open (failurePolicy Ignore): with the controller down, pods are created without the
# gate, and `rollout status` then waits for plain readiness only. So every new pod must carry the gate before traffic
# moves; a pod being deleted (of the ReplicaSet the restart replaced) is skipped.
HEALTHY_TARGETS = """\
kubectl rollout restart "deployment/$DEPLOYMENT" --namespace "$NAMESPACE"
kubectl rollout status "deployment/$DEPLOYMENT" --namespace "$NAMESPACE" --timeout "$TIMEOUT"
each='{.metadata.name}{" deleting="}{.metadata.deletionTimestamp}{" gates="}{.spec.readinessGates[*].conditionType}'
pods="$(kubectl get pods --namespace "$NAMESPACE" --selector "$PODS" \\
  --output "jsonpath={range .items[*]}$each{\\"\\n\\"}{end}")"
gated=0
while read -r pod deleting gates; do
  if [ -z "$pod" ] || [ "$deleting" != "deleting=" ]; then continue; fi
  case " ${gates#gates=} " in
    *" $GATE/"*) gated=$((gated + 1)) ;;
    *) echo "::error::pod $pod has no $GATE readiness gate: its Ready does not mean a healthy load balancer" \\
         "target (is the AWS Load Balancer Controller, whose webhook adds the gate, running?)"; exit 1 ;;
  esac
done <<< "$pods"
if [ "$gated" -eq 0 ]; then echo "::error::no pod of $DEPLOYMENT found with the $GATE readiness gate"; exit 1; fi
"""

SWITCH = """\
patch="$(printf '{"spec":{"selector":{"%s":"%s"}}}' "$SLOT_LABEL" "$SLOT")"
kubectl patch service "$SERVICE" --namespace "$NAMESPACE" --type merge --patch "$patch"
"""


def idle_pods(service: ServicePlan) -> str:
    """A label selector of the idle slot's pods."""
    labels = {**service.selector, SLOT_LABEL: slot_output(service, "idle")}
    return ",".join(f"{name}={value}" for name, value in labels.items())


def behind_load_balancer(service: ServicePlan) -> bool:
    """A public service's pods are targets of the load balancer, through its TargetGroupBinding."""
    return bool(service.public_host)


def blue_green_steps(env: EnvironmentPlan, images: Mapping[str, str]) -> list[Document]:
    """Every idle slot gets the release and passes its smoke test before any traffic moves; then the two phases."""
    steps = [script(f"Deploy {s.name} to its idle slot", IDLE_DEPLOY, {
        "DEPLOYMENT": slot_output(s, "idle-deployment"), "CONTAINER": s.container, "IMAGE": images[s.name],
        "MIN_REPLICAS": str(s.replicas.min), "LIVE_REPLICAS": slot_output(s, "live-replicas"),
        "TIMEOUT": ROLLOUT_TIMEOUT}, **within(ROLLOUT_TIMEOUT_SECONDS)) for s in slotted(env)]
    steps += [script(f"Smoke test {s.name} on its idle slot", IDLE_SMOKE_TEST, {
        "DEPLOYMENT": slot_output(s, "idle-deployment"), "LOCAL_PORT": str(SMOKE_PORT), "PORT": str(s.port),
        "READINESS_PATH": s.probes.readiness}, **within(smoke_test_seconds(IDLE_CURL))) for s in slotted(env)]
    steps += [script(f"Serve {s.name} from both slots", BOTH_SLOTS, {"SERVICE": s.name, "SLOT_LABEL": SLOT_LABEL})
              for s in slotted(env)]
    steps += [script(f"Wait until the new slot of {s.name} is a healthy load balancer target", HEALTHY_TARGETS, {
        "DEPLOYMENT": slot_output(s, "idle-deployment"), "TIMEOUT": ROLLOUT_TIMEOUT, "PODS": idle_pods(s),
        "GATE": TARGET_HEALTH_GATE}, **within(ROLLOUT_TIMEOUT_SECONDS)) for s in slotted(env) if behind_load_balancer(s)]
    steps += [script(f"Switch {s.name} to the new slot", SWITCH, {
        "SERVICE": s.name, "SLOT_LABEL": SLOT_LABEL, "SLOT": slot_output(s, "idle")}) for s in slotted(env)]
    return steps


# -- blue-green: after the public smoke tests -------------------------------------------------------------------

RELEASED = """\
echo "live=true" >> "$GITHUB_OUTPUT"
"""

# The old slots' targets drain for the target group's deregistration delay; scaling down before that would cut the
# requests still in flight to them.
DRAIN = """\
sleep "$DRAIN_SECONDS"
read -r -a deployments <<< "$DEPLOYMENTS"
for deployment in "${deployments[@]}"; do
  kubectl scale "deployment/$deployment" --replicas 0 --namespace "$NAMESPACE"
done
"""


def drain_old_slots(env: EnvironmentPlan) -> Document:
    deployments = " ".join(slot_output(s, "live-deployment") for s in slotted(env))
    return script("Let the old slots drain, then scale them down", DRAIN,
                  {"DRAIN_SECONDS": str(DEREGISTRATION_DELAY_SECONDS), "DEPLOYMENTS": deployments},
                  **within(DEREGISTRATION_DELAY_SECONDS))


# Per Service: the good slot is the old one until the release is live (every switch and smoke test passed), the new
# one after. The restore selects it only once it has ready pods: scaled back up if it was scaled down, while both
# slots serve, so the pods it creates get the readiness gate. A public service whose Service already left the good
# slot has had its old targets deregistered: its pods are re-created while both slots serve, as in phase one. A slot
# that cannot come up is never selected; the other keeps the traffic if it has ready pods. Every call is safe to
# repeat, so after an API error the whole restore runs again, within one budget for every wait of every attempt.
RESTORE = """\
deadline=$((SECONDS + BUDGET_SECONDS))
ready() {
  kubectl get deployment "$1" --namespace "$NAMESPACE" --ignore-not-found \\
    --output 'jsonpath={.status.readyReplicas}'
}
select_slot() {  # a slot, or "" for both
  local value=null
  if [ -n "$2" ]; then value="\\"$2\\""; fi
  kubectl patch service "$1" --namespace "$NAMESPACE" --type merge \\
    --patch "$(printf '{"spec":{"selector":{"%s":%s}}}' "$SLOT_LABEL" "$value")"
}
come_up() {  # deployment, service, the other slot, its ready pods
  local left=$((deadline - SECONDS))
  if [ "$left" -le 0 ] || ! kubectl rollout status "deployment/$1" --namespace "$NAMESPACE" --timeout "${left}s"; then
    echo "::error::$1 has no ready pods: $2 keeps the $3 slot"
    if [ "${4:-0}" -gt 0 ]; then select_slot "$2" "$3"; fi
    return 1
  fi
}
restore() {  # service, good slot, its Deployment, the other slot, its Deployment, replicas, behind the balancer
  local service="$1" slot="$2" deployment="$3" other="$4" other_deployment="$5" replicas="$6" gated="$7"
  local selected good bad running
  if [ -z "$(kubectl get service "$service" --namespace "$NAMESPACE" --ignore-not-found --output name)" ]; then
    return 0  # a first deploy that failed before its Services existed: nothing serves, nothing to restore
  fi
  selected="$(kubectl get service "$service" --namespace "$NAMESPACE" \\
    --output "jsonpath={.spec.selector.$SLOT_KEY}")" || return 1
  good="$(ready "$deployment")" || return 1
  bad="$(ready "$other_deployment")" || return 1
  if [ "$selected" = "$slot" ] && [ "${good:-0}" -gt 0 ]; then return 0; fi
  if [ "${good:-0}" -eq 0 ]; then
    if [ "${bad:-0}" -gt 0 ]; then select_slot "$service" "" || return 1; fi
    running="$(kubectl get deployment "$deployment" --namespace "$NAMESPACE" \\
      --output 'jsonpath={.spec.replicas}')" || return 1
    if [ "${running:-0}" -lt "$replicas" ]; then
      kubectl scale "deployment/$deployment" --replicas "$replicas" --namespace "$NAMESPACE" || return 1
    fi
    come_up "$deployment" "$service" "$other" "$bad" || return 1
  elif [ "$gated" = true ] && [ "$selected" = "$other" ]; then
    select_slot "$service" "" || return 1
    kubectl rollout restart "deployment/$deployment" --namespace "$NAMESPACE" || return 1
    come_up "$deployment" "$service" "$other" "$bad" || return 1
  fi
  select_slot "$service" "$slot"
}
restore_service() {  # service, live slot, its Deployment, idle slot, its Deployment, live replicas, minimum, gated
  [ -n "$2" ] || return 0  # its live slot was never read: this release changed nothing of it
  local replicas="$6"
  if [ "${replicas:-0}" -lt "$7" ]; then replicas="$7"; fi
  if [ "$RELEASED" = true ]; then
    restore "$1" "$4" "$5" "$2" "$3" "$replicas" "$8"
  else
    restore "$1" "$2" "$3" "$4" "$5" "$replicas" "$8"
  fi
}
for attempt in 1 2 3; do
  failed=0
{calls}  if [ "$failed" = 0 ]; then exit 0; fi
  if [ "$SECONDS" -ge "$deadline" ]; then break; fi
  echo "::warning::restore attempt $attempt did not finish; trying again"
done
echo "::error::the restore did not finish within ${BUDGET_SECONDS}s: check every Service's slot by hand"
exit 1
"""


def restore(env: EnvironmentPlan) -> Document:
    """Each service's slots as the job found them, its minimum, and whether its pods are load balancer targets."""
    names: dict[str, str] = {}
    calls = ""
    for index, s in enumerate(slotted(env)):
        values = {"SERVICE": s.name, "LIVE": slot_output(s, "live"), "LIVE_DEPLOYMENT": slot_output(s, "live-deployment"),
                  "IDLE": slot_output(s, "idle"), "IDLE_DEPLOYMENT": slot_output(s, "idle-deployment"),
                  "LIVE_REPLICAS": slot_output(s, "live-replicas"), "MIN_REPLICAS": str(s.replicas.min)}
        names.update({f"{name}_{index}": value for name, value in values.items()})
        arguments = " ".join(f'"${name}_{index}"' for name in values)
        calls += f"  restore_service {arguments} {str(behind_load_balancer(s)).lower()} || failed=1\n"
    return script(RESTORE_STEP, RESTORE.replace("{calls}", calls), {
        **names, "SLOT_LABEL": SLOT_LABEL, "SLOT_KEY": SLOT_LABEL.replace(".", "\\."),
        "BUDGET_SECONDS": str(RESTORE_BUDGET_SECONDS),
        "RELEASED": f"${{{{ steps.{RELEASED_STEP}.outputs.live }}}}",
    }, **{"if": "failure() || cancelled()", "timeout-minutes": RESTORE_MINUTES})
