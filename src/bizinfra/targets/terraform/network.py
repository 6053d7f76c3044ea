"""The VPC: public subnets for the load balancer and NAT, private ones for nodes and data stores, flow logs,
and the security groups that decide who may reach whom."""

from __future__ import annotations

from bizinfra.plan import EnvironmentPlan
from bizinfra.targets.terraform.blocks import Block, merge, name, ref, resource, tags
from bizinfra.targets.terraform.handles import (
    LOAD_BALANCER_GROUP,
    LOG_BUCKET,
    NAT_GATEWAYS,
    NODES_GROUP,
    PRIVATE_SUBNETS,
    PUBLIC_SUBNETS,
    VPC,
    Data,
    Resource,
    bucket_policy,
    store_group,
)

ANYWHERE = "0.0.0.0/0"
ZONES = Data("aws_availability_zones", "available")
ZONE = ZONES.ref("names[count.index]")
INTERNET_GATEWAY = Resource("aws_internet_gateway", "main")
NAT_ADDRESSES = Resource("aws_eip", "nat")
PUBLIC_ROUTES = Resource("aws_route_table", "public")
PRIVATE_ROUTES = Resource("aws_route_table", "private")


def nat_gateways(env: EnvironmentPlan) -> int:
    """One per zone when highly available, so losing a zone keeps the others online; otherwise one."""
    return env.network.zones if env.highly_available else 1


def network(env: EnvironmentPlan) -> Block:
    return merge(vpc(env), subnets(env), gateways(env), routes(env), flow_logs(env))


def vpc(env: EnvironmentPlan) -> Block:
    return merge(
        ZONES.declare({
            "state": "available",
            "filter": [{"name": "opt-in-status", "values": ["opt-in-not-required"]}],
        }),
        VPC.declare({
            "cidr_block": env.network.cidr,
            "enable_dns_support": True,
            "enable_dns_hostnames": True,
            "tags": tags(env, "vpc"),
        }),
        # Nothing may use the default security group: take its rules away.
        resource("aws_default_security_group", "main", {"vpc_id": VPC.ref("id"),
                                                        "tags": tags(env, "default")}),
    )


def subnets(env: EnvironmentPlan) -> Block:
    cluster_tag = f"kubernetes.io/cluster/{env.cluster_name}"
    return merge(
        PUBLIC_SUBNETS.declare({
            "count": env.network.zones,
            "vpc_id": VPC.ref("id"),
            "cidr_block": ref("local.public_subnet_cidrs[count.index]"),
            "availability_zone": ZONE,
            "map_public_ip_on_launch": False,
            # The load balancer controller puts internet-facing load balancers in subnets tagged role/elb.
            "tags": {"Name": f"{name(env, 'public')}-{ZONE}", "kubernetes.io/role/elb": "1",
                     cluster_tag: "shared"},
        }),
        PRIVATE_SUBNETS.declare({
            "count": env.network.zones,
            "vpc_id": VPC.ref("id"),
            "cidr_block": ref("local.private_subnet_cidrs[count.index]"),
            "availability_zone": ZONE,
            "map_public_ip_on_launch": False,
            "tags": {"Name": f"{name(env, 'private')}-{ZONE}", "kubernetes.io/role/internal-elb": "1",
                     cluster_tag: "shared"},
        }),
    )


def gateways(env: EnvironmentPlan) -> Block:
    count = nat_gateways(env)
    return merge(
        INTERNET_GATEWAY.declare({"vpc_id": VPC.ref("id"), "tags": tags(env, "igw")}),
        NAT_ADDRESSES.declare({"count": count, "domain": "vpc",
                               "tags": {"Name": f"{name(env, 'nat')}-{ref('count.index')}"},
                               "depends_on": [INTERNET_GATEWAY.address]}),
        NAT_GATEWAYS.declare({
            "count": count,
            "allocation_id": NAT_ADDRESSES.ref("[count.index].id"),
            "subnet_id": PUBLIC_SUBNETS.ref("[count.index].id"),
            "tags": {"Name": f"{name(env, 'nat')}-{ZONE}"},
            "depends_on": [INTERNET_GATEWAY.address],
        }),
    )


def routes(env: EnvironmentPlan) -> Block:
    """Public subnets reach the internet through the internet gateway, each private one through a NAT gateway
    (its own zone's when there is one per zone)."""
    nat = "count.index" if nat_gateways(env) > 1 else "0"
    return merge(
        PUBLIC_ROUTES.declare({"vpc_id": VPC.ref("id"), "tags": tags(env, "public")}),
        resource("aws_route", "public_internet", {
            "route_table_id": PUBLIC_ROUTES.ref("id"),
            "destination_cidr_block": ANYWHERE,
            "gateway_id": INTERNET_GATEWAY.ref("id"),
        }),
        resource("aws_route_table_association", "public", {
            "count": env.network.zones,
            "subnet_id": PUBLIC_SUBNETS.ref("[count.index].id"),
            "route_table_id": PUBLIC_ROUTES.ref("id"),
        }),
        PRIVATE_ROUTES.declare({
            "count": env.network.zones,
            "vpc_id": VPC.ref("id"),
            "tags": {"Name": f"{name(env, 'private')}-{ZONE}"},
        }),
        resource("aws_route", "private_nat", {
            "count": env.network.zones,
            "route_table_id": PRIVATE_ROUTES.ref("[count.index].id"),
            "destination_cidr_block": ANYWHERE,
            "nat_gateway_id": NAT_GATEWAYS.ref(f"[{nat}].id"),
        }),
        # Image layers (ECR serves them from S3), backups and logs reach S3 without paying for NAT.
        resource("aws_vpc_endpoint", "s3", {
            "vpc_id": VPC.ref("id"),
            "service_name": f"com.amazonaws.{env.region}.s3",
            "vpc_endpoint_type": "Gateway",
            "route_table_ids": PRIVATE_ROUTES.ref("[*].id"),
            "tags": tags(env, "s3"),
        }),
        resource("aws_route_table_association", "private", {
            "count": env.network.zones,
            "subnet_id": PRIVATE_SUBNETS.ref("[count.index].id"),
            "route_table_id": PRIVATE_ROUTES.ref("[count.index].id"),
        }),
    )


def flow_logs(env: EnvironmentPlan) -> Block:
    return resource("aws_flow_log", "main", {
        "vpc_id": VPC.ref("id"),
        "traffic_type": "ALL",
        "log_destination_type": "s3",
        "log_destination": f"{LOG_BUCKET.ref('arn')}/vpc-flow-logs/",
        "tags": tags(env, "flow-logs"),
        "depends_on": [bucket_policy(LOG_BUCKET).address],
    })


def security_groups(env: EnvironmentPlan) -> Block:
    """The public load balancer takes 443 from CloudFront only and reaches the nodes only on the public services'
    ports; nodes reach the data stores only on each store's port; nothing else comes in."""
    public = [service for service in env.services if service.public_host]
    parts = [
        LOAD_BALANCER_GROUP.declare({
            "name": env.edge.load_balancer_security_group,
            "description": "Public load balancer: HTTPS from CloudFront",
            "vpc_id": VPC.ref("id"),
            "tags": {"Name": env.edge.load_balancer_security_group},
        }),
        NODES_GROUP.declare({
            "name": name(env, "nodes"),
            "description": "Kubernetes nodes and their pods",
            "vpc_id": VPC.ref("id"),
            "tags": tags(env, "nodes"),
        }),
        # Nodes pull images and call AWS APIs through the NAT gateways.
        resource("aws_vpc_security_group_egress_rule", "nodes_out", {
            "security_group_id": NODES_GROUP.ref("id"),
            "description": "Images, AWS APIs and the internet, through NAT",
            "ip_protocol": "-1",
            "cidr_ipv4": ANYWHERE,
        }),
    ]
    # Its one way in, HTTPS from CloudFront's origin-facing addresses, is declared with the edge (edge.py).
    # A rule pair per public service, named by the service (by the port, a changed port moved every rule after it).
    for service in public:
        parts.append(resource("aws_vpc_security_group_egress_rule", f"load_balancer_to_{service.name}", {
            "security_group_id": LOAD_BALANCER_GROUP.ref("id"),
            "description": f"To {service.name} pods on port {service.port}",
            "ip_protocol": "tcp", "from_port": service.port, "to_port": service.port,
            "referenced_security_group_id": NODES_GROUP.ref("id"),
        }))
        parts.append(resource("aws_vpc_security_group_ingress_rule", f"nodes_from_load_balancer_to_{service.name}", {
            "security_group_id": NODES_GROUP.ref("id"),
            "description": f"Public load balancer to {service.name} pods on port {service.port}",
            "ip_protocol": "tcp", "from_port": service.port, "to_port": service.port,
            "referenced_security_group_id": LOAD_BALANCER_GROUP.ref("id"),
        }))
    for store in env.datastores:
        parts.append(store_group(store.name).declare({
            "name": name(env, "datastore", store.name),
            "description": f"{store.engine} {store.name}: reachable from the Kubernetes nodes only",
            "vpc_id": VPC.ref("id"),
            "tags": tags(env, store.name),
        }))
        parts.append(resource("aws_vpc_security_group_ingress_rule", f"{store.name}_from_nodes", {
            "security_group_id": store_group(store.name).ref("id"),
            "description": f"{store.engine} from the Kubernetes nodes",
            "ip_protocol": "tcp", "from_port": store.port, "to_port": store.port,
            "referenced_security_group_id": NODES_GROUP.ref("id"),
        }))
    return merge(*parts)
