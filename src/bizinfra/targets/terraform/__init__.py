"""Terraform target: each Kubernetes environment's AWS stack as Terraform JSON, one file per concern, and the
platform's bootstrap stack (`terraform/bootstrap/`: the state bucket, GitHub's OIDC provider, the infrastructure
roles) that every environment's stack needs first.

`terraform/<env>/versions.tf.json` holds the `terraform` block alone (checkov cannot parse it beside anything
else); the other files are the provider and key, the network, the cluster, its EKS add-ons, container logs, the data
stores, storage, the application's buckets, secrets, the CloudWatch alarms and their SNS topics, the backups and
replication of recovery.py, variables and outputs. `terraform/<env>/addons/` is the second stack, applied after the
first: the cluster add-ons' Helm releases (helm_releases.py). With a second region, `terraform/<env>/standby/` is the
standby stack (recovery.py).
"""

from __future__ import annotations

from bizinfra.artifacts import Artifact, json_file, text_file
from bizinfra.plan import EnvironmentPlan, PlatformPlan
from bizinfra.targets.terraform.addons import eks_addons
from bizinfra.targets.terraform.alarms import alarms, alarms_markdown
from bizinfra.targets.terraform.blocks import Block, merge, output
from bizinfra.targets.terraform.bootstrap import compile_bootstrap
from bizinfra.targets.terraform.buckets import buckets
from bizinfra.targets.terraform.cluster import cluster
from bizinfra.targets.terraform.datastores import datastores, endpoint
from bizinfra.targets.terraform.deploy import deploy_role
from bizinfra.targets.terraform.edge import edge
from bizinfra.targets.terraform.handles import database, role_credentials, store_credentials, store_record
from bizinfra.targets.terraform.helm_releases import addons_files
from bizinfra.targets.terraform.logs import logs
from bizinfra.targets.terraform.network import network, security_groups
from bizinfra.targets.terraform.recovery import recovery, standby_files
from bizinfra.targets.terraform.registry import registry
from bizinfra.targets.terraform.secrets import secrets
from bizinfra.targets.terraform.settings import budget, kms_key, monthly_budget, outputs, provider, variables, versions
from bizinfra.targets.terraform.storage import storage

__all__ = ["compile_terraform", "environment_files"]


def compile_terraform(plan: PlatformPlan) -> list[Artifact]:
    artifacts = compile_bootstrap(plan)
    for env in plan.on("kubernetes"):
        files = environment_files(env)
        artifacts += [json_file(f"terraform/{env.name}/{file}", document, environment=env.name)
                      for file, document in files.items()]
        artifacts += [json_file(f"terraform/{env.name}/standby/{file}", document, environment=env.name)
                      for file, document in standby_files(env).items()]
        artifacts.append(text_file(f"terraform/{env.name}/alarms.md", alarms_markdown(env, files["alarms.tf.json"]),
                                   comment="<!-- {} -->", environment=env.name))
        artifacts += [json_file(f"terraform/{env.name}/addons/{file}", document, environment=env.name)
                      for file, document in addons_files(env).items()]
    return artifacts


def environment_files(env: EnvironmentPlan) -> dict[str, Block]:
    """The environment's files by name; a concern with nothing to declare gets no file."""
    files = {
        "versions.tf.json": versions(env),
        "main.tf.json": merge(provider(env), subnet_cidrs(env), kms_key(env), budget(env)),
        "network.tf.json": merge(network(env), security_groups(env)),
        "public.tf.json": edge(env),
        "eks.tf.json": cluster(env),
        "addons.tf.json": eks_addons(env),
        "logs.tf.json": logs(env),
        "deploy.tf.json": deploy_role(env),
        "registry.tf.json": registry(env),
        "datastores.tf.json": datastores(env),
        "storage.tf.json": storage(env),
        "recovery.tf.json": recovery(env),
        "buckets.tf.json": buckets(env),  # the application's buckets and the roles of the services calling AWS
        "secrets.tf.json": secrets(env),
        "alarms.tf.json": alarms(env),
        "outputs.tf.json": merge(outputs(env), datastore_outputs(env)),
    }
    files["variables.tf.json"] = variables(env, monthly_budget(env, files.values()))
    return {file: document for file, document in sorted(files.items()) if document}


def subnet_cidrs(env: EnvironmentPlan) -> Block:
    return {"locals": {"public_subnet_cidrs": list(env.network.public_subnets),
                       "private_subnet_cidrs": list(env.network.private_subnets)}}


def datastore_outputs(env: EnvironmentPlan) -> Block:
    parts = []
    for store in env.datastores:
        key = store.name.replace("-", "_")  # output names read as Terraform identifiers, in snake case
        parts += [
            output(f"{key}_host", store_record(store.name).ref("fqdn"),
                   f"The name services reach {store.name} by ({store.host})."),
            output(f"{key}_address", endpoint(store), f"The endpoint AWS gives {store.name}."),
        ]
        if store.engine == "redis":
            parts.append(output(f"{key}_credentials_secret_arn", store_credentials(store.name).ref("arn"),
                                f"The secret ({store.credentials}) services read {store.env_prefix}_* credentials "
                                "from."))
        else:
            parts += [
                output(f"{key}_role_secret_arns",
                       {role.database: role_credentials(store.name, role.name).ref("arn") for role in store.roles},
                       "Per database, the secret of the role owning it, which its services log in with."),
                output(f"{key}_master_secret_arn",
                       database(store.name).ref("master_user_secret[0].secret_arn"),
                       f"The secret RDS keeps {store.name}'s master password in: what creates the databases' roles."),
                output(f"{key}_databases", list(store.databases),
                       "The databases the services expect, one per service that uses it."),
            ]
    return merge(*parts)
