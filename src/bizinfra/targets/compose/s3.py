"""The local stand-in for S3: Adobe's S3Mock, with every application bucket created at start under the name the
environment's ConfigMaps give it, so a service reads `<NAME>_BUCKET` and calls the same API as in the cloud.

Why S3Mock: it creates the buckets from one variable (`COM_ADOBE_TESTING_S3MOCK_STORE_INITIAL_BUCKETS`), where
MinIO needs a second container running `mc mb`, and MinIO's maintainers stopped publishing community images in
October 2025. What it does not do: encryption (accepted and ignored), lifecycle rules (stored, not enforced), IAM
(any key pair is accepted), virtual-hosted addressing (clients use path style: `forcePathStyle: true` in the AWS SDK
for JavaScript). Objects live as long as its container (S3Mock empties its store on exit): a development convenience,
not a place to keep anything. Other AWS services a service declares have no stand-in here; it gets `AWS_REGION` and
calls nothing unless the developer points it somewhere.
"""

from __future__ import annotations

from typing import Any

from bizinfra.plan import EnvironmentPlan, ServicePlan

# The newest release when this was written (adobe/S3Mock CHANGELOG.md, 5.2.0), pinned like every image here.
S3MOCK_IMAGE = "adobe/s3mock:5.2.0"
S3MOCK_PORT = 9090  # its HTTP port inside the container (README: 9090 HTTP, 9191 HTTPS)
# The key pair the services sign with: S3Mock accepts any, so make-env.sh fills random ones, like every other value.
ACCESS_KEY_VARIABLE = "S3_ACCESS_KEY_ID"
SECRET_KEY_VARIABLE = "S3_SECRET_ACCESS_KEY"
S3_VARIABLES = (ACCESS_KEY_VARIABLE, SECRET_KEY_VARIABLE)


def stand_in_name(env: EnvironmentPlan) -> str:
    """`s3`, unless the platform already has a service or data store of that name."""
    taken = {s.name for s in env.services} | {d.name for d in env.datastores} | {b.name for b in env.buckets}
    name = "s3"
    while name in taken:
        name += "-local"
    return name


def stand_in_port(env: EnvironmentPlan, taken: set[int]) -> int:
    """Where it is published on the laptop: 9090, or the next port nothing else publishes."""
    port = S3MOCK_PORT
    while port in taken:
        port += 1
    return port


def needs_stand_in(env: EnvironmentPlan) -> bool:
    return any(service.buckets for service in env.services)


def stand_in_service(env: EnvironmentPlan, network: str, published: int) -> dict[str, Any]:
    return {
        "image": S3MOCK_IMAGE,
        "environment": {
            "COM_ADOBE_TESTING_S3MOCK_STORE_INITIAL_BUCKETS": ",".join(bucket.bucket for bucket in env.buckets),
            "COM_ADOBE_TESTING_S3MOCK_STORE_REGION": env.region,
        },
        "ports": [f"127.0.0.1:{published}:{S3MOCK_PORT}"],
        "networks": [network],
    }


def stand_in_environment(env: EnvironmentPlan, service: ServicePlan, required: Any) -> dict[str, str]:
    """What a service using a bucket is given to reach the stand-in instead of S3 (AWS SDKs read
    AWS_ENDPOINT_URL_S3 since 2023)."""
    if not service.buckets:
        return {}
    return {
        "AWS_ENDPOINT_URL_S3": f"http://{stand_in_name(env)}:{S3MOCK_PORT}",
        "AWS_ACCESS_KEY_ID": required(ACCESS_KEY_VARIABLE),
        "AWS_SECRET_ACCESS_KEY": required(SECRET_KEY_VARIABLE),
    }


def env_example_lines(env: EnvironmentPlan, published: int) -> list[str]:
    if not needs_stand_in(env):
        return []
    return ["", f"# The S3 stand-in (S3Mock) on http://localhost:{published}: it accepts any key pair; the services",
            "# sign with this one. Its buckets are emptied when its container stops.",
            f"{ACCESS_KEY_VARIABLE}=", f"{SECRET_KEY_VARIABLE}="]
