"""How a service reaches its data stores with stock clients: the connection strings its Secret composes beside the
parts (DATABASE_URL, REDIS_URL), and the RDS certificate authorities its pods trust, so that TLS verifies.

The certificates name each store's AWS endpoint, not the private zone's alias in `<PREFIX>_HOST`; the endpoint is in
the store's endpoint secret (`host`, which Terraform keeps current) and reaches the service as
`<PREFIX>_TLS_SERVERNAME` and as the host of its URL. RDS signs with its own CAs, shipped in a ConfigMap mounted
read-only; ElastiCache's certificates chain to Amazon's public roots, which every client's default trust store holds.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from bizinfra.plan import DatastorePlan, EnvironmentPlan, ServicePlan
from bizinfra.targets.kubernetes.common import Manifest, metadata

CA_CONFIG_MAP = "rds-ca-bundle"
CA_VOLUME = "rds-ca"
CA_FOLDER = "/etc/ssl/rds"
CA_FILE = "ca.pem"


@cache
def rds_certificate_authorities(region: str) -> str | None:
    """The region's RDS root CAs (data/reference/rds-ca/SOURCES.md), or none for a region opened since."""
    bundle = resources.files("bizinfra") / "data" / "reference" / "rds-ca" / f"{region}.pem"
    return bundle.read_text() if bundle.is_file() else None


def verifies(env: EnvironmentPlan, store: DatastorePlan) -> bool:
    """Whether clients can check the store's certificate: TLS, and for RDS, its region's CAs are known."""
    return store.tls and (store.engine == "redis" or rds_certificate_authorities(env.region) is not None)


def trusts_rds(env: EnvironmentPlan, service: ServicePlan) -> bool:
    """Whether the service's pods mount the RDS CAs: it uses a PostgreSQL store whose certificate it can check."""
    return any(verifies(env, store) and store.engine == "postgres" for store in map(env.datastore, service.uses))


def ca_config_map(env: EnvironmentPlan) -> list[Manifest]:
    """The RDS CAs of the environment's region, when any service mounts them."""
    if not any(trusts_rds(env, service) for service in env.services):
        return []
    return [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata(env, CA_CONFIG_MAP),
             "data": {CA_FILE: rds_certificate_authorities(env.region)}}]


def ca_volumes(env: EnvironmentPlan, service: ServicePlan) -> list[Manifest]:
    if not trusts_rds(env, service):
        return []
    return [{"name": CA_VOLUME, "configMap": {"name": CA_CONFIG_MAP, "defaultMode": 0o444}}]


def ca_mounts(env: EnvironmentPlan, service: ServicePlan) -> list[Manifest]:
    return [{"name": CA_VOLUME, "mountPath": CA_FOLDER, "readOnly": True}] if trusts_rds(env, service) else []


def connection_url(env: EnvironmentPlan, service: ServicePlan, store: DatastorePlan) -> str:
    """The store's URL as an External Secrets template (engine v2, Go's text/template): the credentials escaped by
    `urlquery`, the host the certificate names. Verified TLS where the CAs are known; `require` (encrypted, not
    checked) for RDS in a region whose CAs bizinfra does not ship; plain when the store speaks plain TCP."""
    prefix = store.env_prefix
    password = f"{{{{ .{prefix}_PASSWORD | urlquery }}}}"
    host = f"{{{{ .{prefix}_TLS_SERVERNAME }}}}" if store.tls else store.host
    if store.engine == "redis":
        return f"{'rediss' if store.tls else 'redis'}://:{password}@{host}:{store.port}"
    user = f"{{{{ .{prefix}_USERNAME | urlquery }}}}"
    if not store.tls:
        mode = "sslmode=disable"
    elif verifies(env, store):
        mode = f"sslmode=verify-full&sslrootcert={CA_FOLDER}/{CA_FILE}"
    else:
        mode = "sslmode=require"
    return f"postgresql://{user}:{password}@{host}:{store.port}/{service.database}?{mode}"


def connection_templates(env: EnvironmentPlan, service: ServicePlan) -> dict[str, str]:
    """The Secret keys composed from the others: DATABASE_URL and REDIS_URL, for the one store of each engine."""
    return {variable: connection_url(env, service, env.datastore(store))
            for store, variable in env.connection_urls(service).items()}
