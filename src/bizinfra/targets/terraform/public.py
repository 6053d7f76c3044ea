"""The public side: a TLS certificate for the environment's public hosts, validated in the domain's Route 53 zone.

The AWS Load Balancer Controller finds it in ACM by the Ingress hosts, so the HTTPS listener needs no ARN.
The public zone must already exist in the account (it is looked up, not created: a domain has one zone).
"""

from __future__ import annotations

from bizinfra.plan import EnvironmentPlan
from bizinfra.targets.terraform.blocks import Block, data, merge, ref, resource, tags


def public_hosts(env: EnvironmentPlan) -> list[str]:
    return sorted({service.public_host for service in env.services if service.public_host})


def certificate(env: EnvironmentPlan) -> Block:
    hosts = public_hosts(env)
    if not hosts:
        return {}
    body: Block = {"domain_name": hosts[0], "validation_method": "DNS", "key_algorithm": "RSA_2048",
                   "tags": tags(env, "public"), "lifecycle": {"create_before_destroy": True}}
    if hosts[1:]:
        body["subject_alternative_names"] = hosts[1:]
    return merge(
        data("aws_route53_zone", "public", {"name": env.domain, "private_zone": False}),
        resource("aws_acm_certificate", "public", body),
        resource("aws_route53_record", "certificate_validation", {
            "for_each": ref("{for option in aws_acm_certificate.public.domain_validation_options : "
                            "option.domain_name => option}"),
            "zone_id": ref("data.aws_route53_zone.public.zone_id"),
            "name": ref("each.value.resource_record_name"),
            "type": ref("each.value.resource_record_type"),
            "records": [ref("each.value.resource_record_value")],
            "ttl": 300,
            "allow_overwrite": True,
        }),
        resource("aws_acm_certificate_validation", "public", {
            "certificate_arn": ref("aws_acm_certificate.public.arn"),
            "validation_record_fqdns": ref("[for record in aws_route53_record.certificate_validation : record.fqdn]"),
        }),
    )
