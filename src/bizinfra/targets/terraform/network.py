"""The VPC: public subnets for the load balancer and NAT, private ones for nodes and data stores, flow logs,
and the security groups that decide who may reach whom."""

from __future__ import annotations

from bizinfra.plan import EnvironmentPlan
from bizinfra.targets.terraform.blocks import Block, data, merge, name, ref, resource, tags

ANYWHERE = "0.0.0.0/0"
ZONE = "data.aws_availability_zones.available.names[count.index]"


def nat_gateways(env: EnvironmentPlan) -> int:
    """One per zone when highly available, so losing a zone keeps the others online; otherwise one."""
    return env.network.zones if env.highly_available else 1


def network(env: EnvironmentPlan) -> Block:
    return merge(vpc(env), subnets(env), gateways(env), routes(env), flow_logs(env))


def vpc(env: EnvironmentPlan) -> Block:
    return merge(
        data("aws_availability_zones", "available", {
            "state": "available",
            "filter": [{"name": "opt-in-status", "values": ["opt-in-not-required"]}],
        }),
        resource("aws_vpc", "main", {
            "cidr_block": env.network.cidr,
            "enable_dns_support": True,
            "enable_dns_hostnames": True,
            "tags": tags(env, "vpc"),
        }),
        # Nothing may use the default security group: take its rules away.
        resource("aws_default_security_group", "main", {"vpc_id": ref("aws_vpc.main.id"),
                                                        "tags": tags(env, "default")}),
    )


def subnets(env: EnvironmentPlan) -> Block:
    cluster_tag = f"kubernetes.io/cluster/{env.cluster_name}"
    return merge(
        resource("aws_subnet", "public", {
            "count": env.network.zones,
            "vpc_id": ref("aws_vpc.main.id"),
            "cidr_block": ref("local.public_subnet_cidrs[count.index]"),
            "availability_zone": ref(ZONE),
            "map_public_ip_on_launch": False,
            # The load balancer controller puts internet-facing load balancers in subnets tagged role/elb.
            "tags": {"Name": f"{name(env, 'public')}-{ref(ZONE)}", "kubernetes.io/role/elb": "1",
                     cluster_tag: "shared"},
        }),
        resource("aws_subnet", "private", {
            "count": env.network.zones,
            "vpc_id": ref("aws_vpc.main.id"),
            "cidr_block": ref("local.private_subnet_cidrs[count.index]"),
            "availability_zone": ref(ZONE),
            "map_public_ip_on_launch": False,
            "tags": {"Name": f"{name(env, 'private')}-{ref(ZONE)}", "kubernetes.io/role/internal-elb": "1",
                     cluster_tag: "shared"},
        }),
    )


def gateways(env: EnvironmentPlan) -> Block:
    count = nat_gateways(env)
    return merge(
        resource("aws_internet_gateway", "main", {"vpc_id": ref("aws_vpc.main.id"), "tags": tags(env, "igw")}),
        resource("aws_eip", "nat", {"count": count, "domain": "vpc",
                                    "tags": {"Name": f"{name(env, 'nat')}-{ref('count.index')}"},
                                    "depends_on": ["aws_internet_gateway.main"]}),
        resource("aws_nat_gateway", "main", {
            "count": count,
            "allocation_id": ref("aws_eip.nat[count.index].id"),
            "subnet_id": ref("aws_subnet.public[count.index].id"),
            "tags": {"Name": f"{name(env, 'nat')}-{ref(ZONE)}"},
            "depends_on": ["aws_internet_gateway.main"],
        }),
    )


def routes(env: EnvironmentPlan) -> Block:
    """Public subnets reach the internet through the internet gateway, each private one through a NAT gateway
    (its own zone's when there is one per zone)."""
    nat = "count.index" if nat_gateways(env) > 1 else "0"
    return merge(
        resource("aws_route_table", "public", {"vpc_id": ref("aws_vpc.main.id"), "tags": tags(env, "public")}),
        resource("aws_route", "public_internet", {
            "route_table_id": ref("aws_route_table.public.id"),
            "destination_cidr_block": ANYWHERE,
            "gateway_id": ref("aws_internet_gateway.main.id"),
        }),
        resource("aws_route_table_association", "public", {
            "count": env.network.zones,
            "subnet_id": ref("aws_subnet.public[count.index].id"),
            "route_table_id": ref("aws_route_table.public.id"),
        }),
        resource("aws_route_table", "private", {
            "count": env.network.zones,
            "vpc_id": ref("aws_vpc.main.id"),
            "tags": {"Name": f"{name(env, 'private')}-{ref(ZONE)}"},
        }),
        resource("aws_route", "private_nat", {
            "count": env.network.zones,
            "route_table_id": ref("aws_route_table.private[count.index].id"),
            "destination_cidr_block": ANYWHERE,
            "nat_gateway_id": ref(f"aws_nat_gateway.main[{nat}].id"),
        }),
        # Image layers (ECR serves them from S3), backups and logs reach S3 without paying for NAT.
        resource("aws_vpc_endpoint", "s3", {
            "vpc_id": ref("aws_vpc.main.id"),
            "service_name": f"com.amazonaws.{env.region}.s3",
            "vpc_endpoint_type": "Gateway",
            "route_table_ids": ref("aws_route_table.private[*].id"),
            "tags": tags(env, "s3"),
        }),
        resource("aws_route_table_association", "private", {
            "count": env.network.zones,
            "subnet_id": ref("aws_subnet.private[count.index].id"),
            "route_table_id": ref("aws_route_table.private[count.index].id"),
        }),
    )


def flow_logs(env: EnvironmentPlan) -> Block:
    return resource("aws_flow_log", "main", {
        "vpc_id": ref("aws_vpc.main.id"),
        "traffic_type": "ALL",
        "log_destination_type": "s3",
        "log_destination": f"{ref('aws_s3_bucket.logs.arn')}/vpc-flow-logs/",
        "tags": tags(env, "flow-logs"),
        "depends_on": ["aws_s3_bucket_policy.logs"],
    })


def security_groups(env: EnvironmentPlan) -> Block:
    """The public load balancer takes 443 from CloudFront only and reaches the nodes only on the public services'
    ports; nodes reach the data stores only on each store's port; nothing else comes in."""
    public_ports = sorted({service.port for service in env.services if service.public_host})
    parts = [
        resource("aws_security_group", "load_balancer", {
            "name": env.load_balancer_security_group,
            "description": "Public load balancer: HTTPS from CloudFront",
            "vpc_id": ref("aws_vpc.main.id"),
            "tags": {"Name": env.load_balancer_security_group},
        }),
        resource("aws_security_group", "eks_nodes", {
            "name": name(env, "nodes"),
            "description": "Kubernetes nodes and their pods",
            "vpc_id": ref("aws_vpc.main.id"),
            "tags": tags(env, "nodes"),
        }),
        # Nodes pull images and call AWS APIs through the NAT gateways.
        resource("aws_vpc_security_group_egress_rule", "nodes_out", {
            "security_group_id": ref("aws_security_group.eks_nodes.id"),
            "description": "Images, AWS APIs and the internet, through NAT",
            "ip_protocol": "-1",
            "cidr_ipv4": ANYWHERE,
        }),
    ]
    # Its one way in, HTTPS from CloudFront's origin-facing addresses, is declared with the edge (edge.py).
    for port in public_ports:
        parts.append(resource("aws_vpc_security_group_egress_rule", f"load_balancer_to_nodes_{port}", {
            "security_group_id": ref("aws_security_group.load_balancer.id"),
            "description": f"To pods on port {port}",
            "ip_protocol": "tcp", "from_port": port, "to_port": port,
            "referenced_security_group_id": ref("aws_security_group.eks_nodes.id"),
        }))
        parts.append(resource("aws_vpc_security_group_ingress_rule", f"nodes_from_load_balancer_{port}", {
            "security_group_id": ref("aws_security_group.eks_nodes.id"),
            "description": f"Public load balancer to pods on port {port}",
            "ip_protocol": "tcp", "from_port": port, "to_port": port,
            "referenced_security_group_id": ref("aws_security_group.load_balancer.id"),
        }))
    for store in env.datastores:
        parts.append(resource("aws_security_group", store.name, {
            "name": name(env, "datastore", store.name),
            "description": f"{store.engine} {store.name}: reachable from the Kubernetes nodes only",
            "vpc_id": ref("aws_vpc.main.id"),
            "tags": tags(env, store.name),
        }))
        parts.append(resource("aws_vpc_security_group_ingress_rule", f"{store.name}_from_nodes", {
            "security_group_id": ref(f"aws_security_group.{store.name}.id"),
            "description": f"{store.engine} from the Kubernetes nodes",
            "ip_protocol": "tcp", "from_port": store.port, "to_port": store.port,
            "referenced_security_group_id": ref("aws_security_group.eks_nodes.id"),
        }))
    return merge(*parts)
