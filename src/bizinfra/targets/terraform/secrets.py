"""Secrets Manager: one secret per secret the services declare, named as their ExternalSecrets read it.

Data store credentials are created with their data store; here are the others (JWT_SECRET ...). Each starts
with a value Secrets Manager generates, so the services start; replace it with `aws secretsmanager
put-secret-value`: Terraform ignores later changes to it.
"""

from __future__ import annotations

from bizinfra.plan import EnvironmentPlan
from bizinfra.targets.terraform.blocks import Block, data, merge, ref, resource


def declared_secrets(env: EnvironmentPlan) -> list[tuple[str, str]]:
    """(resource name, secret name) of every secret a service reads that no data store owns, sorted by name."""
    owned = {store.credentials for store in env.datastores}
    keys = sorted({ref_.key for service in env.services for ref_ in service.secrets} - owned)
    return [("secret_" + key.rsplit("/", 1)[-1].replace("-", "_"), key) for key in keys]


def secrets(env: EnvironmentPlan) -> Block:
    parts = []
    for resource_name, key in declared_secrets(env):
        readers = sorted(service.name for service in env.services if any(r.key == key for r in service.secrets))
        parts += [
            resource("aws_secretsmanager_secret", resource_name, {
                "name": key,
                "description": f"Read by {', '.join(readers)}",
                "kms_key_id": ref("aws_kms_key.main.arn"),
                "recovery_window_in_days": 30 if env.production else 7,
                "tags": {"Name": key},
            }),
            data("aws_secretsmanager_random_password", resource_name, {"password_length": 64,
                                                                        "exclude_punctuation": True}),
            resource("aws_secretsmanager_secret_version", resource_name, {
                "secret_id": ref(f"aws_secretsmanager_secret.{resource_name}.id"),
                "secret_string": ref(f"data.aws_secretsmanager_random_password.{resource_name}.random_password"),
                "lifecycle": {"ignore_changes": ["secret_string"]},
            }),
        ]
    return merge(*parts)
