"""Typed handles for Terraform blocks: one value declares a block and every reference to it reads from the same
value, so a reference cannot name something never declared by a typo in an address string."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class Resource:
    """A resource block, `<type>.<name>`."""

    type: str
    name: str
    section: ClassVar[str] = "resource"

    @property
    def address(self) -> str:
        return f"{self.type}.{self.name}"

    def ref(self, path: str = "") -> str:
        """An interpolation of an attribute (`arn`), an index or splat (`[*].id`), or the block itself (no path)."""
        joint = "." if path and not path.startswith("[") else ""
        return "${" + self.address + joint + path + "}"

    def declare(self, body: dict[str, Any]) -> dict[str, Any]:
        return {self.section: {self.type: {self.name: body}}}


@dataclass(frozen=True)
class Data(Resource):
    """A data source, `data.<type>.<name>`."""

    section: ClassVar[str] = "data"

    @property
    def address(self) -> str:
        return f"data.{self.type}.{self.name}"


# -- blocks that more than one file of a stack names -------------------------------------

ACCOUNT = Data("aws_caller_identity", "current")
PARTITION = Data("aws_partition", "current")
KMS_KEY = Resource("aws_kms_key", "main")
VPC = Resource("aws_vpc", "main")
PUBLIC_SUBNETS = Resource("aws_subnet", "public")
PRIVATE_SUBNETS = Resource("aws_subnet", "private")
LOAD_BALANCER_GROUP = Resource("aws_security_group", "load_balancer")
NODES_GROUP = Resource("aws_security_group", "eks_nodes")
CLUSTER = Resource("aws_eks_cluster", "main")
IRSA_PROVIDER = Resource("aws_iam_openid_connect_provider", "eks")
BACKUP_BUCKET = Resource("aws_s3_bucket", "backups")
LOG_BUCKET = Resource("aws_s3_bucket", "logs")
STANDBY_KEY = Resource("aws_kms_key", "standby")  # in the second region: what the replicas are encrypted with
REPLICA_BUCKET = Resource("aws_s3_bucket", "backups_replica")  # in the second region: the backup bucket's replica
REGIONAL_CERTIFICATE = Resource("aws_acm_certificate_validation", "public")
LOAD_BALANCER = Resource("aws_lb", "public")
NAT_GATEWAYS = Resource("aws_nat_gateway", "main")


def bucket_policy(bucket: Resource) -> Resource:
    """What writes to a bucket waits for: its policy lets the writer in."""
    return Resource("aws_s3_bucket_policy", bucket.name)


def store_group(store: str) -> Resource:
    """The security group in front of a data store."""
    return Resource("aws_security_group", store)


def database(store: str) -> Resource:
    return Resource("aws_db_instance", store)


def cache(store: str) -> Resource:
    return Resource("aws_elasticache_replication_group", store)


def target_group(service: str) -> Resource:
    """The load balancer target group of a public service."""
    return Resource("aws_lb_target_group", service.replace("-", "_"))


def cache_nodes(highly_available: bool) -> int:
    """The cache clusters (nodes) of an ElastiCache replication group: a primary, and a replica to fail over to."""
    return 2 if highly_available else 1


def store_record(store: str) -> Resource:
    """The private zone's name for a data store."""
    return Resource("aws_route53_record", store)


def store_credentials(store: str) -> Resource:
    return Resource("aws_secretsmanager_secret", f"{store}_credentials")


def store_endpoint(store: str) -> Resource:
    """The secret holding a store's endpoint (`{"host": ...}`)."""
    return Resource("aws_secretsmanager_secret", f"{store}_endpoint")


def role_credentials(store: str, role: str) -> Resource:
    """The secret of a database's own role."""
    return Resource("aws_secretsmanager_secret", f"{store}_{role}_credentials")


def exporter_credentials(store: str) -> Resource:
    """The secret of a PostgreSQL store's exporter role."""
    return Resource("aws_secretsmanager_secret", f"{store}_exporter_credentials")


def identity_role(identity: str) -> Resource:
    """The IAM role of a cluster add-on or bootstrap Job (EKS Pod Identity), labelled in snake case."""
    return Resource("aws_iam_role", identity.replace("-", "_"))


def addon(name: str) -> Resource:
    """An EKS add-on, labelled by its name in snake case."""
    return Resource("aws_eks_addon", name.replace("-", "_"))


def container_logs(kind: str) -> Resource:
    """The log group of one kind of the cluster's container logs (application, dataplane, host)."""
    return Resource("aws_cloudwatch_log_group", f"containers_{kind}")
