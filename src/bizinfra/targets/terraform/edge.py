"""The edge of a public environment: viewers reach CloudFront (WAF attached) by the public hosts' alias records;
CloudFront reaches the load balancer over HTTPS; the load balancer sends each host to its service's target group,
which the service's TargetGroupBinding fills with pod IPs.

Terraform owns the load balancer, so its address is a resource attribute CloudFront reads in the same apply: no
lookup of a load balancer that does not exist yet, no manual step. The Kubernetes side names each target group by
`plan.target_group_name`, so both agree by construction.
"""

from __future__ import annotations

from bizinfra.plan import LOAD_BALANCER_LOG_PREFIX, EnvironmentPlan, load_balancer_name, target_group_name
from bizinfra.targets.terraform.blocks import Block, merge, name, output, resource, tags
from bizinfra.targets.terraform.handles import (
    LOAD_BALANCER,
    LOAD_BALANCER_GROUP,
    LOG_BUCKET,
    PUBLIC_SUBNETS,
    REGIONAL_CERTIFICATE,
    VPC,
    Data,
    Resource,
    bucket_policy,
    target_group,
)
from bizinfra.targets.terraform.public import (
    CLOUDFRONT_CERTIFICATE,
    US_EAST_1,
    certificate,
    public_hosts,
    zone,
    zone_id,
)

# AWS's recommended TLS policy for Application Load Balancers (TLS 1.3 and 1.2 only):
# https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html
LOAD_BALANCER_TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
VIEWER_TLS = "TLSv1.2_2021"  # CloudFront's TLS 1.2+ policy with only strong ciphers (CloudFront developer guide)
CLOUDFRONT_LOG_PREFIX = "cloudfront"
ORIGIN = "load-balancer"
# AWS managed CloudFront policies, looked up by name (CloudFront developer guide, "Use managed policies"):
# nothing cached, since an API's answers depend on who asks; every viewer header, cookie and query string
# forwarded, the Host header included, so the load balancer routes by host and CloudFront checks the origin's
# certificate against that host (which the regional certificate covers); security headers (HSTS, nosniff ...)
# added to every answer.
CACHE_POLICY = "Managed-CachingDisabled"
ORIGIN_REQUEST_POLICY = "Managed-AllViewer"
RESPONSE_HEADERS_POLICY = "Managed-SecurityHeadersPolicy"
# AWS managed rule groups every public API gets (AWS WAF developer guide, "Baseline rule groups").
MANAGED_RULE_GROUPS = ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet")
# The window `edge.rate_limit` counts over: AWS WAF's default, of 60, 120, 300 or 600 (AWS WAF developer guide,
# "Rate-based rule high-level settings", which also gives the limit's range, 10 to 2,000,000,000).
RATE_WINDOW_SECONDS = 300
# CloudFront's addresses towards origins, as an AWS-managed prefix list: only CloudFront may reach the load balancer.
CLOUDFRONT_PREFIX_LIST = "com.amazonaws.global.cloudfront.origin-facing"
LISTENER = Resource("aws_lb_listener", "https")
CLOUDFRONT_ADDRESSES = Data("aws_ec2_managed_prefix_list", "cloudfront")
FIREWALL = Resource("aws_wafv2_web_acl", "edge")
DISTRIBUTION = Resource("aws_cloudfront_distribution", "edge")


def edge(env: EnvironmentPlan) -> Block:
    """Everything public; a zone the stack must create is created even when no service is public yet."""
    if not public_hosts(env):
        return zone(env) if env.edge.creates_zone else {}
    return merge(certificate(env), load_balancer(env), firewall(env), distribution(env), records(env))


def load_balancer(env: EnvironmentPlan) -> Block:
    public = [service for service in env.services if service.public_host]
    parts = [
        LOAD_BALANCER.declare({
            "name": load_balancer_name(env),
            "internal": False,
            "load_balancer_type": "application",
            "security_groups": [LOAD_BALANCER_GROUP.ref("id")],
            "subnets": PUBLIC_SUBNETS.ref("[*].id"),
            "drop_invalid_header_fields": True,
            "enable_deletion_protection": env.production,
            "access_logs": {"bucket": LOG_BUCKET.ref("id"), "prefix": LOAD_BALANCER_LOG_PREFIX,
                            "enabled": True},
            "tags": tags(env, "load-balancer"),
            "depends_on": [bucket_policy(LOG_BUCKET).address],
        }),
        CLOUDFRONT_ADDRESSES.declare({"name": CLOUDFRONT_PREFIX_LIST}),
        resource("aws_vpc_security_group_ingress_rule", "load_balancer_from_cloudfront", {
            "security_group_id": LOAD_BALANCER_GROUP.ref("id"),
            "description": "HTTPS from CloudFront only, so nothing bypasses the web application firewall",
            "ip_protocol": "tcp", "from_port": 443, "to_port": 443,
            "prefix_list_id": CLOUDFRONT_ADDRESSES.ref("id"),
        }),
        LISTENER.declare({
            "load_balancer_arn": LOAD_BALANCER.ref("arn"),
            "port": 443,
            "protocol": "HTTPS",
            "ssl_policy": LOAD_BALANCER_TLS_POLICY,
            "certificate_arn": REGIONAL_CERTIFICATE.ref("certificate_arn"),
            "default_action": {"type": "fixed-response", "fixed_response": {
                "content_type": "text/plain", "message_body": "Not found", "status_code": "404"}},
        }),
    ]
    for priority, service in enumerate(public, start=1):
        targets = target_group(service.name)
        parts += [
            targets.declare({
                "name": target_group_name(env, service),
                "port": service.port,
                "protocol": "HTTP",  # TLS ends at the load balancer, inside the VPC; the pods serve HTTP
                "target_type": "ip",  # the TargetGroupBinding registers pod IPs
                "vpc_id": VPC.ref("id"),
                "deregistration_delay": 30,  # within the pods' 30 s grace period, after their 10 s preStop sleep
                "health_check": {"path": service.health_path, "port": "traffic-port", "protocol": "HTTP",
                                 "matcher": "200-399", "healthy_threshold": 2, "unhealthy_threshold": 3,
                                 "interval": 15, "timeout": 5},
                "tags": tags(env, service.name),
            }),
            resource("aws_lb_listener_rule", targets.name, {
                "listener_arn": LISTENER.ref("arn"),
                "priority": priority,
                "condition": [{"host_header": {"values": [service.public_host]}}],
                "action": [{"type": "forward", "target_group_arn": targets.ref("arn")}],
            }),
        ]
    return merge(*parts)


def _visibility(metric: str) -> Block:
    return {"cloudwatch_metrics_enabled": True, "metric_name": metric, "sampled_requests_enabled": True}


def firewall(env: EnvironmentPlan) -> Block:
    """A rate limit per client IP first (cheapest to evaluate, stops floods before the rule groups run), then AWS's
    common and known-bad-inputs rule groups; everything else is allowed."""
    rules: list[Block] = [{
        "name": "rate-limit-per-ip",
        "priority": 0,
        "action": {"block": {}},
        "statement": {"rate_based_statement": {"limit": env.edge.rate_limit, "aggregate_key_type": "IP",
                                               "evaluation_window_sec": RATE_WINDOW_SECONDS}},
        "visibility_config": _visibility("rate-limit-per-ip"),
    }]
    for priority, group in enumerate(MANAGED_RULE_GROUPS, start=1):
        rules.append({
            "name": group,
            "priority": priority,
            "override_action": {"none": {}},
            "statement": {"managed_rule_group_statement": {"name": group, "vendor_name": "AWS"}},
            "visibility_config": _visibility(group),
        })
    return FIREWALL.declare({
        "provider": US_EAST_1,
        "name": name(env, "edge", limit=128),
        "description": f"{env.qualified_name}: in front of the public hosts",
        "scope": "CLOUDFRONT",
        "default_action": {"allow": {}},
        "rule": rules,
        "visibility_config": _visibility(name(env, "edge", limit=128)),
        "tags": tags(env, "edge"),
    })


def distribution(env: EnvironmentPlan) -> Block:
    cache = Data("aws_cloudfront_cache_policy", "caching_disabled")
    origin_request = Data("aws_cloudfront_origin_request_policy", "all_viewer")
    response_headers = Data("aws_cloudfront_response_headers_policy", "security_headers")
    return merge(
        cache.declare({"name": CACHE_POLICY}),
        origin_request.declare({"name": ORIGIN_REQUEST_POLICY}),
        response_headers.declare({"name": RESPONSE_HEADERS_POLICY}),
        DISTRIBUTION.declare({
            "comment": f"{env.qualified_name}: public hosts",
            "enabled": True,
            "aliases": public_hosts(env),
            "http_version": "http2and3",
            "is_ipv6_enabled": True,
            "price_class": "PriceClass_All",
            "web_acl_id": FIREWALL.ref("arn"),
            "origin": [{
                "origin_id": ORIGIN,
                "domain_name": LOAD_BALANCER.ref("dns_name"),
                "custom_origin_config": {"http_port": 80, "https_port": 443, "origin_protocol_policy": "https-only",
                                         "origin_ssl_protocols": ["TLSv1.2"]},
            }],
            "default_cache_behavior": {
                "target_origin_id": ORIGIN,
                "viewer_protocol_policy": "redirect-to-https",
                "allowed_methods": ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"],
                "cached_methods": ["GET", "HEAD"],
                "compress": True,
                "cache_policy_id": cache.ref("id"),
                "origin_request_policy_id": origin_request.ref("id"),
                "response_headers_policy_id": response_headers.ref("id"),
            },
            "viewer_certificate": {
                "acm_certificate_arn": CLOUDFRONT_CERTIFICATE.ref("certificate_arn"),
                "ssl_support_method": "sni-only",
                "minimum_protocol_version": VIEWER_TLS,
            },
            "logging_config": {"bucket": LOG_BUCKET.ref("bucket_domain_name"),
                               "prefix": f"{CLOUDFRONT_LOG_PREFIX}/", "include_cookies": False},
            "restrictions": {"geo_restriction": {"restriction_type": "none"}},
            "tags": tags(env, "cdn"),
        }),
        output("cdn_domain_name", DISTRIBUTION.ref("domain_name"),
               "The CloudFront distribution the public hosts alias."),
        output("web_acl_arn", FIREWALL.ref("arn"), "The web application firewall in front of it."),
        output("load_balancer_dns_name", LOAD_BALANCER.ref("dns_name"),
               "The load balancer CloudFront reaches (only CloudFront may)."),
    )


def records(env: EnvironmentPlan) -> Block:
    """Each public host, IPv4 and IPv6, aliases the distribution."""
    parts = []
    for host in public_hosts(env):
        for kind in ("A", "AAAA"):
            parts.append(resource("aws_route53_record", f"host_{host.replace('.', '_')}_{kind.lower()}", {
                "zone_id": zone_id(env),
                "name": host,
                "type": kind,
                "alias": {"name": DISTRIBUTION.ref("domain_name"),
                          "zone_id": DISTRIBUTION.ref("hosted_zone_id"),
                          "evaluate_target_health": False},
            }))
    return merge(*parts)
