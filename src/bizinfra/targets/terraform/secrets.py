"""Secrets Manager: one secret per secret the services declare and per alert receiver, named as their ExternalSecrets
read them.

Data store credentials are created with their data store; here are the others (JWT_SECRET ...). Each starts
with a value Secrets Manager generates, so the services start; replace it with `aws secretsmanager
put-secret-value`: Terraform ignores later changes to it. A receiver's secret starts with its one key empty (a URL
or a key cannot be generated): Alertmanager starts, and tells nobody through it until a human stores the value.

Every secret of the stack is declared by `secret`: with a second region (`recovery.region`) Secrets Manager keeps a
replica of it there, by the same name, under the replicas' key, so after a failover the standby cluster's
ExternalSecrets, reading the same names in their own region, find every value.
"""

from __future__ import annotations

import json

from bizinfra.plan import EnvironmentPlan, ReceiverPlan
from bizinfra.targets.terraform.blocks import Block, merge
from bizinfra.targets.terraform.handles import KMS_KEY, STANDBY_KEY, Data, Resource


def recovery_window_days(env: EnvironmentPlan) -> int:
    """How long a deleted secret can be restored: 30 days in production; elsewhere none (0 deletes at once), so a
    stack destroyed and applied again can create its secrets under the same names."""
    return 30 if env.production else 0


def secret(env: EnvironmentPlan, handle: Resource, name: str, description: str,
           tags: dict[str, str] | None = None) -> Block:
    """A secret under the environment's key, kept `recovery_window_days` once deleted, replicated to the second
    region when there is one (a replica is read-only there, and follows every new value within seconds)."""
    body: Block = {"name": name, "description": description, "kms_key_id": KMS_KEY.ref("arn"),
                   "recovery_window_in_days": recovery_window_days(env)}
    standby = env.recovery.standby
    if standby:
        body["replica"] = [{"region": standby.region, "kms_key_id": STANDBY_KEY.ref("arn")}]
    return handle.declare({**body, **({"tags": tags} if tags else {})})


def declared_secrets(env: EnvironmentPlan) -> list[tuple[str, str]]:
    """(resource name, secret name) of every secret a service reads that no data store owns, sorted by name."""
    owned = {store.credentials for store in env.datastores} | \
        {role.credentials for store in env.datastores for role in store.roles} | \
        {store.endpoint_secret for store in env.datastores if store.endpoint_secret}
    keys = sorted({ref_.key for service in env.services for ref_ in service.secrets} - owned)
    return [("secret_" + key.rsplit("/", 1)[-1].replace("-", "_"), key) for key in keys]


def secrets(env: EnvironmentPlan) -> Block:
    return merge(service_secrets(env), *(receiver_secret(env, receiver) for receiver in env.alerting.receivers))


def service_secrets(env: EnvironmentPlan) -> Block:
    parts = []
    for resource_name, key in declared_secrets(env):
        readers = sorted(service.name for service in env.services if any(r.key == key for r in service.secrets))
        handle = Resource("aws_secretsmanager_secret", resource_name)
        password = Data("aws_secretsmanager_random_password", resource_name)
        parts += [
            secret(env, handle, key, f"Read by {', '.join(readers)}", {"Name": key}),
            password.declare({"password_length": 64, "exclude_punctuation": True}),
            Resource("aws_secretsmanager_secret_version", resource_name).declare({
                "secret_id": handle.ref("id"),
                "secret_string": password.ref("random_password"),
                "lifecycle": {"ignore_changes": ["secret_string"]},
            }),
        ]
    return merge(*parts)


def receiver_secret(env: EnvironmentPlan, receiver: ReceiverPlan) -> Block:
    """`<platform>/<env>/alerting/<receiver>`, holding `{"<its key>": ""}` until a human stores the real value."""
    resource_name = "alerting_" + receiver.name.replace("-", "_")
    handle = Resource("aws_secretsmanager_secret", resource_name)
    return merge(
        secret(env, handle, receiver.secret, f"Alertmanager's {receiver.kind} receiver {receiver.name}: store its "
               f"{receiver.secret_property} as JSON key {receiver.secret_property}", {"Name": receiver.secret}),
        Resource("aws_secretsmanager_secret_version", resource_name).declare({
            "secret_id": handle.ref("id"),
            "secret_string": json.dumps({receiver.secret_property: ""}),
            "lifecycle": {"ignore_changes": ["secret_string"]},
        }),
    )
