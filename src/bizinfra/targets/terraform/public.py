"""The public names: the domain's Route 53 zone, and the certificates of the environment's public hosts, one in the
platform's region for the load balancer and one in us-east-1 for CloudFront, both validated by DNS in that zone.

The zone is looked up, or created by one stack when the spec says `edge.zone: create`
(`EnvironmentPlan.edge.creates_zone`).
"""

from __future__ import annotations

from bizinfra.plan import MANAGED_BY, EnvironmentPlan
from bizinfra.targets.terraform.blocks import Block, merge, output, ref, tags
from bizinfra.targets.terraform.handles import REGIONAL_CERTIFICATE, Data, Resource

CLOUDFRONT_REGION = "us-east-1"  # CloudFront takes certificates from ACM in us-east-1 only; WAF for CloudFront too
US_EAST_1 = "aws.us_east_1"  # the provider alias for those
CLOUDFRONT_CERTIFICATE = Resource("aws_acm_certificate_validation", "cloudfront")
VALIDATION_RECORDS = Resource("aws_route53_record", "certificate_validation")


def public_zone(env: EnvironmentPlan) -> Resource:
    """The domain's zone: this stack's resource, or a data source looking up another stack's."""
    return Resource("aws_route53_zone", "public") if env.edge.creates_zone else Data("aws_route53_zone", "public")


def public_hosts(env: EnvironmentPlan) -> list[str]:
    return sorted({service.public_host for service in env.services if service.public_host})


def zone_id(env: EnvironmentPlan) -> str:
    return public_zone(env).ref("zone_id")


def us_east_1_provider(env: EnvironmentPlan) -> Block:
    return {"provider": {"aws": {"alias": "us_east_1", "region": CLOUDFRONT_REGION, "default_tags": {"tags": {
        "Platform": env.platform, "Environment": env.name, "ManagedBy": MANAGED_BY, "Spec": env.source}}}}}


def zone(env: EnvironmentPlan) -> Block:
    if not env.edge.creates_zone:
        return public_zone(env).declare({"name": env.domain, "private_zone": False})
    return merge(
        public_zone(env).declare({
            "name": env.domain,
            "comment": f"{env.platform}: public hosts (created by the {env.name} stack)",
            "tags": tags(env, "public-zone"),
            "lifecycle": {"prevent_destroy": True},  # every environment's names live in it
        }),
        output("public_zone_name_servers", public_zone(env).ref("name_servers"),
               f"Delegate {env.domain} to these name servers at its registrar."),
    )


def certificate(env: EnvironmentPlan) -> Block:
    hosts = public_hosts(env)
    if not hosts:
        return {}
    body: Block = {"domain_name": hosts[0], "validation_method": "DNS", "key_algorithm": "RSA_2048",
                   "tags": tags(env, "public"), "lifecycle": {"create_before_destroy": True}}
    if hosts[1:]:
        body["subject_alternative_names"] = hosts[1:]
    regional, global_ = Resource("aws_acm_certificate", "public"), Resource("aws_acm_certificate", "cloudfront")
    record_names = ref(f"[for record in {VALIDATION_RECORDS.address} : record.fqdn]")
    return merge(
        us_east_1_provider(env),
        zone(env),
        regional.declare(body),
        global_.declare({**body, "provider": US_EAST_1, "tags": tags(env, "cdn")}),
        # ACM asks for the same validation record for a domain name in every region of an account, so one record
        # per host validates both certificates (keyed by host: known before the certificates exist).
        VALIDATION_RECORDS.declare({
            "for_each": ref(f"{{for option in {regional.address}.domain_validation_options : "
                            "option.domain_name => option}"),
            "zone_id": zone_id(env),
            "name": ref("each.value.resource_record_name"),
            "type": ref("each.value.resource_record_type"),
            "records": [ref("each.value.resource_record_value")],
            "ttl": 300,
            "allow_overwrite": True,
        }),
        REGIONAL_CERTIFICATE.declare({
            "certificate_arn": regional.ref("arn"),
            "validation_record_fqdns": record_names,
        }),
        CLOUDFRONT_CERTIFICATE.declare({
            "provider": US_EAST_1,
            "certificate_arn": global_.ref("arn"),
            "validation_record_fqdns": record_names,
        }),
    )
