"""PostgreSQL on RDS and Redis on ElastiCache, in the private subnets, each behind its own security group and
reachable under the host name the services are configured with (`DatastorePlan.host`, a private Route 53 zone)."""

from __future__ import annotations

from bizinfra.plan import (
    DATABASE_EXPORTER_USER,
    DATABASE_MASTER_USER,
    DatabaseRole,
    DatastorePlan,
    EnvironmentPlan,
)
from bizinfra.targets.terraform.blocks import (
    Block,
    assume_role_policy,
    iam_document,
    merge,
    name,
    ref,
    role_with_policies,
    tags,
)
from bizinfra.targets.terraform.handles import (
    KMS_KEY,
    PRIVATE_SUBNETS,
    VPC,
    Data,
    Resource,
    cache,
    cache_nodes,
    database,
    exporter_credentials,
    role_credentials,
    store_credentials,
    store_endpoint,
    store_group,
    store_record,
)
from bizinfra.targets.terraform.secrets import secret

# Backup windows from the seed, in UTC; maintenance follows so the two never overlap.
BACKUP_WINDOW = "03:00-04:00"
DATABASE_MAINTENANCE_WINDOW = "Mon:04:00-Mon:05:00"
CACHE_MAINTENANCE_WINDOW = "mon:05:00-mon:06:00"
MAX_BACKUP_DAYS = 35  # RDS and ElastiCache keep automated backups for at most 35 days
DNS_TTL = 60  # a failover moves the endpoint; clients should follow within a minute
PRIVATE_ZONE = Resource("aws_route53_zone", "private")
MONITORING_ROLE = Resource("aws_iam_role", "rds_monitoring")


def backup_days(env: EnvironmentPlan) -> int:
    return min(env.backups.keep_days, MAX_BACKUP_DAYS)


def datastores(env: EnvironmentPlan) -> Block:
    parts = [private_zone(env)] if env.datastores else []
    if any(store.engine == "postgres" for store in env.datastores):
        parts.append(monitoring_role(env))
    for store in env.datastores:
        parts.append(postgres(env, store) if store.engine == "postgres" else redis(env, store))
        parts.append(store_record(store.name).declare({
            "zone_id": PRIVATE_ZONE.ref("zone_id"),
            "name": store.host,
            "type": "CNAME",
            "ttl": DNS_TTL,
            "records": [endpoint(store)],
        }))
    return merge(*parts)


def endpoint(store: DatastorePlan) -> str:
    """The address AWS gives the store, which the private zone's CNAME points at."""
    return ref(endpoint_expression(store))


def endpoint_expression(store: DatastorePlan) -> str:
    """The address AWS gives the store, as an expression: the name its TLS certificate holds."""
    if store.engine == "postgres":
        return f"{database(store.name).address}.address"
    return f"{cache(store.name).address}.primary_endpoint_address"


def private_zone(env: EnvironmentPlan) -> Block:
    return PRIVATE_ZONE.declare({
        "name": env.private_zone,
        "comment": f"{env.qualified_name}: data store endpoints",
        "vpc": [{"vpc_id": VPC.ref("id")}],
        "tags": tags(env, "private-zone"),
    })


def monitoring_role(env: EnvironmentPlan) -> Block:
    trust = iam_document("rds_monitoring_trust")
    return merge(
        assume_role_policy(trust, "monitoring.rds.amazonaws.com"),
        role_with_policies(MONITORING_ROLE, name(env, "rds-monitoring", limit=64), trust,
                           ["service-role/AmazonRDSEnhancedMonitoringRole"], "RDS enhanced monitoring"),
    )


def postgres_family(version: str) -> str:
    """The parameter group family: postgres15 for '15' or '15.4'."""
    return f"postgres{version.split('.')[0]}"


def postgres(env: EnvironmentPlan, store: DatastorePlan) -> Block:
    production = env.production
    subnets = Resource("aws_db_subnet_group", store.name)
    parameters = Resource("aws_db_parameter_group", store.name)
    instance: Block = {
        "identifier": store.identifier,
        "engine": "postgres",
        "engine_version": store.version,
        "instance_class": env.sizes.database,
        "allocated_storage": env.sizes.database_storage,
        # Storage autoscaling up to five times the start (seed: 100 -> 500 GiB).
        "max_allocated_storage": min(env.sizes.database_storage * 5, 65536),
        "storage_type": "gp3",
        "storage_encrypted": True,
        "kms_key_id": KMS_KEY.ref("arn"),
        "port": store.port,
        "username": DATABASE_MASTER_USER,
        "manage_master_user_password": True,
        "master_user_secret_kms_key_id": KMS_KEY.ref("arn"),
        "iam_database_authentication_enabled": True,
        "db_subnet_group_name": subnets.ref("name"),
        "vpc_security_group_ids": [store_group(store.name).ref("id")],
        "parameter_group_name": parameters.ref("name"),
        "publicly_accessible": False,
        "multi_az": store.replicas > 0,
        "backup_retention_period": backup_days(env),
        "backup_window": BACKUP_WINDOW,
        "maintenance_window": DATABASE_MAINTENANCE_WINDOW,
        "copy_tags_to_snapshot": True,
        "auto_minor_version_upgrade": True,
        "enabled_cloudwatch_logs_exports": ["postgresql", "upgrade"],
        "performance_insights_enabled": True,
        "performance_insights_kms_key_id": KMS_KEY.ref("arn"),
        "performance_insights_retention_period": 7,  # the free tier
        "monitoring_interval": 60,
        "monitoring_role_arn": MONITORING_ROLE.ref("arn"),
        "deletion_protection": production,
        "skip_final_snapshot": not production,
        "tags": tags(env, store.name),
    }
    if production:
        instance["final_snapshot_identifier"] = f"{store.identifier}-final"
    return merge(
        subnets.declare({
            "name": store.identifier,
            "description": f"{store.name}: the private subnets",
            "subnet_ids": PRIVATE_SUBNETS.ref("[*].id"),
            "tags": tags(env, store.name),
        }),
        # A prefix, not a name: a new family (major upgrade) creates the new group before the old one goes.
        parameters.declare({
            "name_prefix": f"{store.identifier}-",
            "family": postgres_family(store.version),
            "description": f"{store.name}: TLS only, slow queries and connections logged",
            "parameter": [
                {"name": "log_connections", "value": "1"},
                {"name": "log_min_duration_statement", "value": "1000"},  # milliseconds
                {"name": "rds.force_ssl", "value": "1"},
            ],
            "tags": tags(env, store.name),
            "lifecycle": {"create_before_destroy": True},
        }),
        database(store.name).declare(instance),
        *(role_secret(env, store, role) for role in store.roles),
        exporter_secret(env, store),
        endpoint_secret(env, store),
    )




def redis_version(version: str) -> str:
    """ElastiCache wants major.minor from Redis 7 on (7 means the newest 7.x, 7.1); for 6 it takes `6.x`."""
    if "." in version:
        return version
    return {"6": "6.x", "7": "7.1"}[version]


def redis_family(version: str) -> str:
    return "redis6.x" if version.startswith("6") else f"redis{version.split('.')[0]}"


def redis(env: EnvironmentPlan, store: DatastorePlan) -> Block:
    failover = store.replicas > 0
    subnets = Resource("aws_elasticache_subnet_group", store.name)
    group: Block = {
        "replication_group_id": store.identifier,
        "description": f"{env.qualified_name} {store.name}",
        "engine": "redis",
        "engine_version": redis_version(store.version),
        "parameter_group_name": f"default.{redis_family(store.version)}",
        "node_type": env.sizes.cache,
        "num_cache_clusters": cache_nodes(failover),
        "port": store.port,
        "subnet_group_name": subnets.ref("name"),
        "security_group_ids": [store_group(store.name).ref("id")],
        "at_rest_encryption_enabled": True,
        "kms_key_id": KMS_KEY.ref("arn"),
        "transit_encryption_enabled": True,
        # Generated by Secrets Manager at the first apply and kept in the credentials secret; later
        # plans draw a new value, which must not replace the live one.
        "auth_token": password(store.name).ref("random_password"),
        "automatic_failover_enabled": failover,
        "multi_az_enabled": failover,
        "snapshot_retention_limit": backup_days(env),
        "snapshot_window": BACKUP_WINDOW,
        "maintenance_window": CACHE_MAINTENANCE_WINDOW,
        "auto_minor_version_upgrade": "true",
        "tags": tags(env, store.name),
        "lifecycle": {"ignore_changes": ["auth_token"]},
    }
    if env.production:  # as the database: production keeps a last snapshot when destroyed, elsewhere nothing is kept
        group["final_snapshot_identifier"] = f"{store.identifier}-final"
    return merge(
        subnets.declare({
            "name": store.identifier,
            "description": f"{store.name}: the private subnets",
            "subnet_ids": PRIVATE_SUBNETS.ref("[*].id"),
            "tags": tags(env, store.name),
        }),
        cache(store.name).declare(group),
        credentials(env, store),
        endpoint_secret(env, store),
    )


def endpoint_secret(env: EnvironmentPlan, store: DatastorePlan) -> Block:
    """`{"host": ...}`: the endpoint AWS gives the store, the name its certificate holds, which the services'
    DATABASE_URL and REDIS_URL connect to so that TLS checks it. Nothing generated in it, so no `ignore_changes`:
    a replaced instance's new endpoint follows at the next apply."""
    assert store.endpoint_secret  # every store AWS runs speaks TLS, so has one (compose, without TLS, has none)
    handle = store_endpoint(store.name)
    return merge(
        secret(env, handle, store.endpoint_secret,
               f"{store.name}: the endpoint AWS gives it, the name its TLS certificate holds",
               tags(env, store.name, "endpoint")),
        Resource("aws_secretsmanager_secret_version", handle.name).declare({
            "secret_id": handle.ref("id"),
            "secret_string": ref(f"jsonencode({{host = {endpoint_expression(store)}}})"),
        }),
    )


def role_secret(env: EnvironmentPlan, store: DatastorePlan, role: DatabaseRole) -> Block:
    """A database role's secret: `{username, password}` as JSON, the password generated here and set by the
    bootstrap Job."""
    return login_secret(env, store, role_credentials(store.name, role.name), role.credentials,
                        f"{store.name}: role {role.name}, owner of database {role.database}, what "
                        f"{', '.join(role.users)} log in with", "credentials",
                        password(f"{store.name}_{role.name}"), role.name)


def exporter_secret(env: EnvironmentPlan, store: DatastorePlan) -> Block:
    """The exporter role's secret, apart from the services' credentials: the exporter reads only this one, and the
    bootstrap Job sets the role's password from it. `{username, password}` as JSON, like the store's."""
    return login_secret(env, store, exporter_credentials(store.name), env.exporter(store.name).credentials,
                        f"{store.name}: what its exporter logs in with (role {DATABASE_EXPORTER_USER}, pg_monitor)",
                        "exporter", password(f"{store.name}_exporter"), DATABASE_EXPORTER_USER)


def login_secret(env: EnvironmentPlan, store: DatastorePlan, handle: Resource, secret_name: str, description: str,
                 purpose: str, password_: Data, username: str | None) -> Block:
    """A secret of generated credentials: `{username, password}` as JSON (`{password}` without a user), the password
    generated by Secrets Manager at the first apply and kept, whatever later plans draw."""
    fields = ([f'username = "{username}"'] if username else []) + [f"password = {password_.address}.random_password"]
    return merge(
        secret(env, handle, secret_name, description, tags(env, store.name, purpose)),
        password_.declare({"password_length": 40, "exclude_punctuation": True}),
        Resource("aws_secretsmanager_secret_version", handle.name).declare({
            "secret_id": handle.ref("id"),
            "secret_string": ref(f"jsonencode({{{', '.join(fields)}}})"),
            "lifecycle": {"ignore_changes": ["secret_string"]},
        }),
    )


def password(store: str) -> Data:
    """A password Secrets Manager generates (at every plan: the secret keeps the first)."""
    return Data("aws_secretsmanager_random_password", store)


def credentials(env: EnvironmentPlan, store: DatastorePlan) -> Block:
    """The Redis store's credentials secret, its generated auth token, and the first value: `{password}` as JSON.
    Letters and digits only, which ElastiCache auth tokens and connection URLs take without escaping."""
    return login_secret(env, store, store_credentials(store.name), store.credentials,
                        f"{store.name}: what services log in with ({store.env_prefix}_* variables)", "credentials",
                        password(store.name), None)
