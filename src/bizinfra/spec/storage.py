"""What a service keeps and reaches beyond the platform: application buckets (`storage:`) and declared egress.

A bucket is declared once under the platform's `storage:` and named in the `uses:` of each service that reads and
writes it, beside its data stores: to the user both are "where this service keeps data". A service's `egress:` lists
what it calls outside the platform: external HTTPS hosts (`api.stripe.com`, `smtp.sendgrid.net:587`) and AWS services
by their endpoint name (`sqs`, `secretsmanager`).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StrictStr, model_validator
from pydantic_core import PydanticCustomError

from bizinfra.spec import quantities
from bizinfra.spec.base import Frozen

# AWS services a service may declare, by the first label of their regional endpoint (`<name>.<region>.amazonaws.com`,
# AWS General Reference, "Service endpoints and quotas"; SES's is `email`, written here as users say it).
AWS_SERVICES = ("bedrock-runtime", "cognito-idp", "dynamodb", "events", "firehose", "kinesis", "kms", "lambda", "logs",
                "s3", "secretsmanager", "ses", "sns", "sqs", "ssm", "states", "sts", "textract")
# Bucket names the platform's own buckets already end in (`<domain>-<env>-backups`, `-logs`).
RESERVED_BUCKETS = ("backups", "logs")
HTTPS = 443
_HOST = re.compile(r"^(?P<host>([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63})(:(?P<port>[0-9]{1,5}))?$")


def egress_target(text: str) -> tuple[str, int] | str:
    """An external host as (host, port), port 443 unless written; an AWS service as its name."""
    match = _HOST.fullmatch(text)
    if match:
        port = int(match["port"] or HTTPS)
        if not 1 <= port <= 65535:
            raise PydanticCustomError("egress", "'{text}': the port must be between 1 and 65535", {"text": text})
        return match["host"], port
    if text in AWS_SERVICES:
        return text
    raise PydanticCustomError(
        "egress", "'{text}' is neither an external host such as api.stripe.com (optionally with a port, "
        "smtp.sendgrid.net:587) nor an AWS service bizinfra knows ({known})",
        {"text": text, "known": ", ".join(AWS_SERVICES)})


def _checked_target(text: str) -> str:
    egress_target(text)
    return text


EgressTarget = Annotated[StrictStr, AfterValidator(_checked_target), Field(
    description="An external host the service calls, such as api.stripe.com (HTTPS, port 443) or "
    "smtp.sendgrid.net:587, or an AWS service by its endpoint name: " + ", ".join(AWS_SERVICES) + ".")]


def _whole_days(text: str) -> str:
    days = quantities.seconds(text) / 86400
    if days != int(days) or not 1 <= days <= 36500:
        raise PydanticCustomError("days", "must be a whole number of days from 1d to 36500d, as S3 lifecycle rules "
                                  "count (got {text})", {"text": text})
    return text


Days = Annotated[StrictStr, AfterValidator(_whole_days), Field(
    description="A whole number of days, written like 30d (S3 lifecycle rules count whole days).")]


def days(text: str) -> int:
    return int(quantities.seconds(text) // 86400)


# The storage classes a transition may move objects to, in the user's words, and S3's name for each.
STORAGE_CLASSES = {"infrequent-access": "STANDARD_IA", "intelligent-tiering": "INTELLIGENT_TIERING",
                   "glacier-instant": "GLACIER_IR", "glacier-flexible": "GLACIER", "deep-archive": "DEEP_ARCHIVE"}
# S3 refuses a transition to Standard-IA (or One Zone-IA) sooner than 30 days after creation (S3 user guide,
# "Transitioning objects using Amazon S3 Lifecycle").
INFREQUENT_ACCESS_MINIMUM_DAYS = 30


class Transition(Frozen):
    after: Days = Field(description="How long after an object is written it moves, e.g. 90d.")
    to: Literal["infrequent-access", "intelligent-tiering", "glacier-instant", "glacier-flexible", "deep-archive"] = \
        Field(description="The cheaper storage class: infrequent-access (S3 Standard-IA, at least 30d), "
              "intelligent-tiering, glacier-instant (Glacier Instant Retrieval), glacier-flexible, deep-archive.")

    @model_validator(mode="after")
    def _s3_accepts(self) -> Transition:
        if self.to == "infrequent-access" and days(self.after) < INFREQUENT_ACCESS_MINIMUM_DAYS:
            raise PydanticCustomError("transition", "S3 moves objects to infrequent-access no sooner than {least}d "
                                      "after they are written (got {after})",
                                      {"least": INFREQUENT_ACCESS_MINIMUM_DAYS, "after": self.after})
        return self


class Bucket(Frozen):
    """An S3 bucket per environment, for the services that list it under `uses`: encrypted with the environment's
    key, versioned, never public, reachable over TLS only; its lifecycle comes from here."""

    expire: Days | None = Field(None, description="Delete objects this long after they are written, e.g. 2555d. "
                                "Default: kept until the application deletes them.")
    transition: Transition | None = Field(None, description="Move objects to a cheaper storage class after a "
                                          "while (the seed's cost tip: S3 lifecycle policies for old data).")
    keep_versions: Days = Field("30d", description="How long the previous version of an overwritten or deleted "
                                "object is kept (the bucket is always versioned). Default 30d: a month to notice "
                                "and undo a mistaken delete.")

    @model_validator(mode="after")
    def _expires_after_transition(self) -> Bucket:
        if self.expire and self.transition and days(self.expire) <= days(self.transition.after):
            raise PydanticCustomError("expire", "objects expire after {expire}, not after their transition at "
                                      "{after}: S3 needs the expiry later", {"expire": self.expire,
                                                                           "after": self.transition.after})
        return self
