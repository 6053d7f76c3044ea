"""PostgreSQL on RDS and Redis on ElastiCache, in the private subnets, each behind its own security group and
reachable under the host name the services are configured with (`DatastorePlan.host`, a private Route 53 zone)."""

from __future__ import annotations

from bizinfra.plan import DATABASE_APP_USER, DATABASE_MASTER_USER, DatastorePlan, EnvironmentPlan
from bizinfra.targets.terraform.blocks import (
    Block,
    assume_role_policy,
    data,
    merge,
    name,
    ref,
    resource,
    role_with_policies,
    tags,
)

# Backup windows from the seed, in UTC; maintenance follows so the two never overlap.
BACKUP_WINDOW = "03:00-04:00"
DATABASE_MAINTENANCE_WINDOW = "Mon:04:00-Mon:05:00"
CACHE_MAINTENANCE_WINDOW = "mon:05:00-mon:06:00"
MAX_BACKUP_DAYS = 35  # RDS and ElastiCache keep automated backups for at most 35 days
DNS_TTL = 60  # a failover moves the endpoint; clients should follow within a minute


def backup_days(env: EnvironmentPlan) -> int:
    return min(env.backup_keep_days, MAX_BACKUP_DAYS)


def datastores(env: EnvironmentPlan) -> Block:
    parts = [private_zone(env)] if env.datastores else []
    if any(store.engine == "postgres" for store in env.datastores):
        parts.append(monitoring_role(env))
    for store in env.datastores:
        parts.append(postgres(env, store) if store.engine == "postgres" else redis(env, store))
        parts.append(resource("aws_route53_record", store.name, {
            "zone_id": ref("aws_route53_zone.private.zone_id"),
            "name": store.host,
            "type": "CNAME",
            "ttl": DNS_TTL,
            "records": [ref(endpoint(store))],
        }))
    return merge(*parts)


def endpoint(store: DatastorePlan) -> str:
    """The address AWS gives the store, which the private zone's CNAME points at."""
    if store.engine == "postgres":
        return f"aws_db_instance.{store.name}.address"
    return f"aws_elasticache_replication_group.{store.name}.primary_endpoint_address"


def private_zone(env: EnvironmentPlan) -> Block:
    return resource("aws_route53_zone", "private", {
        "name": env.private_zone,
        "comment": f"{env.qualified_name}: data store endpoints",
        "vpc": [{"vpc_id": ref("aws_vpc.main.id")}],
        "tags": tags(env, "private-zone"),
    })


def monitoring_role(env: EnvironmentPlan) -> Block:
    return merge(
        assume_role_policy("rds_monitoring_trust", "monitoring.rds.amazonaws.com"),
        role_with_policies("rds_monitoring", name(env, "rds-monitoring", limit=64), "rds_monitoring_trust",
                           ["service-role/AmazonRDSEnhancedMonitoringRole"], "RDS enhanced monitoring"),
    )


def postgres_family(version: str) -> str:
    """The parameter group family: postgres15 for '15' or '15.4'."""
    return f"postgres{version.split('.')[0]}"


def postgres(env: EnvironmentPlan, store: DatastorePlan) -> Block:
    production = env.production
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
        "kms_key_id": ref("aws_kms_key.main.arn"),
        "port": store.port,
        "username": DATABASE_MASTER_USER,
        "manage_master_user_password": True,
        "master_user_secret_kms_key_id": ref("aws_kms_key.main.arn"),
        "iam_database_authentication_enabled": True,
        "db_subnet_group_name": ref(f"aws_db_subnet_group.{store.name}.name"),
        "vpc_security_group_ids": [ref(f"aws_security_group.{store.name}.id")],
        "parameter_group_name": ref(f"aws_db_parameter_group.{store.name}.name"),
        "publicly_accessible": False,
        "multi_az": env.highly_available,
        "backup_retention_period": backup_days(env),
        "backup_window": BACKUP_WINDOW,
        "maintenance_window": DATABASE_MAINTENANCE_WINDOW,
        "copy_tags_to_snapshot": True,
        "auto_minor_version_upgrade": True,
        "enabled_cloudwatch_logs_exports": ["postgresql", "upgrade"],
        "performance_insights_enabled": True,
        "performance_insights_kms_key_id": ref("aws_kms_key.main.arn"),
        "performance_insights_retention_period": 7,  # the free tier
        "monitoring_interval": 60,
        "monitoring_role_arn": ref("aws_iam_role.rds_monitoring.arn"),
        "deletion_protection": production,
        "skip_final_snapshot": not production,
        "tags": tags(env, store.name),
    }
    if production:
        instance["final_snapshot_identifier"] = f"{store.identifier}-final"
    return merge(
        resource("aws_db_subnet_group", store.name, {
            "name": store.identifier,
            "description": f"{store.name}: the private subnets",
            "subnet_ids": ref("aws_subnet.private[*].id"),
            "tags": tags(env, store.name),
        }),
        # A prefix, not a name: a new family (major upgrade) creates the new group before the old one goes.
        resource("aws_db_parameter_group", store.name, {
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
        resource("aws_db_instance", store.name, instance),
        credentials_secret(env, store),
        random_password(store.name),
        resource("aws_secretsmanager_secret_version", f"{store.name}_credentials", {
            "secret_id": ref(f"aws_secretsmanager_secret.{store.name}_credentials.id"),
            "secret_string": ref("jsonencode({"
                                 f'username = "{DATABASE_APP_USER}", '
                                 f"password = data.aws_secretsmanager_random_password.{store.name}.random_password"
                                 "})"),
            "lifecycle": {"ignore_changes": ["secret_string"]},
        }),
    )




def redis_version(version: str) -> str:
    """ElastiCache wants major.minor from Redis 7 on (7 means the newest 7.x, 7.1); for 6 it takes `6.x`."""
    if "." in version:
        return version
    return {"6": "6.x", "7": "7.1"}[version]


def redis_family(version: str) -> str:
    return "redis6.x" if version.startswith("6") else f"redis{version.split('.')[0]}"


def redis(env: EnvironmentPlan, store: DatastorePlan) -> Block:
    failover = env.highly_available
    return merge(
        resource("aws_elasticache_subnet_group", store.name, {
            "name": store.identifier,
            "description": f"{store.name}: the private subnets",
            "subnet_ids": ref("aws_subnet.private[*].id"),
            "tags": tags(env, store.name),
        }),
        resource("aws_elasticache_replication_group", store.name, {
            "replication_group_id": store.identifier,
            "description": f"{env.qualified_name} {store.name}",
            "engine": "redis",
            "engine_version": redis_version(store.version),
            "parameter_group_name": f"default.{redis_family(store.version)}",
            "node_type": env.sizes.cache,
            "num_cache_clusters": 2 if failover else 1,
            "port": store.port,
            "subnet_group_name": ref(f"aws_elasticache_subnet_group.{store.name}.name"),
            "security_group_ids": [ref(f"aws_security_group.{store.name}.id")],
            "at_rest_encryption_enabled": True,
            "kms_key_id": ref("aws_kms_key.main.arn"),
            "transit_encryption_enabled": True,
            # Generated by Secrets Manager at the first apply and kept in the credentials secret; later
            # plans draw a new value, which must not replace the live one.
            "auth_token": ref(f"data.aws_secretsmanager_random_password.{store.name}.random_password"),
            "automatic_failover_enabled": failover,
            "multi_az_enabled": failover,
            "snapshot_retention_limit": backup_days(env),
            "snapshot_window": BACKUP_WINDOW,
            "maintenance_window": CACHE_MAINTENANCE_WINDOW,
            "auto_minor_version_upgrade": "true",
            "tags": tags(env, store.name),
            "lifecycle": {"ignore_changes": ["auth_token"]},
        }),
        credentials_secret(env, store),
        random_password(store.name),
        resource("aws_secretsmanager_secret_version", f"{store.name}_credentials", {
            "secret_id": ref(f"aws_secretsmanager_secret.{store.name}_credentials.id"),
            "secret_string": ref("jsonencode({"
                                 f"password = data.aws_secretsmanager_random_password.{store.name}.random_password"
                                 "})"),
            "lifecycle": {"ignore_changes": ["secret_string"]},
        }),
    )


def credentials_secret(env: EnvironmentPlan, store: DatastorePlan) -> Block:
    return resource("aws_secretsmanager_secret", f"{store.name}_credentials", {
        "name": store.credentials,
        "description": f"{store.name}: what services log in with ({store.env_prefix}_* variables)",
        "kms_key_id": ref("aws_kms_key.main.arn"),
        "recovery_window_in_days": 30 if env.production else 7,
        "tags": tags(env, store.name, "credentials"),
    })


def random_password(store: str) -> Block:
    """A password Secrets Manager generates: letters and digits only, which ElastiCache auth tokens and
    connection URLs take without escaping."""
    return data("aws_secretsmanager_random_password", store, {
        "password_length": 40,
        "exclude_punctuation": True,
    })
