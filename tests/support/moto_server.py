"""moto's server, with the few answers where its RDS differs from AWS in a way the AWS provider trips over set right.
Run as a script (`python tests/support/moto_server.py -H 127.0.0.1 -p PORT --ssl`): the arguments are moto.server's.

- Every DB instance gets its own resource id (`db-` and 26 letters and digits, as AWS's): moto gives all of them the
  same one, and the provider (5.x) finds an instance by that id (DescribeDBInstances, filter `dbi-resource-id`), so as
  soon as two instances share an account and region (staging and production) it finds two, reads "couldn't find
  resource" and waits until its timeout.
- A backup window may end where the maintenance window starts, as AWS allows: moto counts the shared minute as an
  overlap and refuses the instance.
"""

from __future__ import annotations

import base64
import hashlib
import sys
from typing import Any

from moto import server
from moto.rds import models, utils


def own_resource_id(instance: Any) -> str:
    """Stable for one instance (its account, region and identifier), distinct between instances."""
    digest = hashlib.sha256(f"{instance.account_id}/{instance.region}/{instance.db_instance_identifier}".encode())
    return "db-" + base64.b32encode(digest.digest()).decode()[:26]


def patch_rds() -> None:
    created = models.DBInstance.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        created(self, *args, **kwargs)
        self.dbi_resource_id = own_resource_id(self)

    models.DBInstance.__init__ = __init__  # type: ignore[method-assign]

    overlap = utils.get_overlap_between_two_date_ranges

    def shared_seconds(*windows: Any) -> int:
        seconds = overlap(*windows)
        return seconds if seconds > 0 else -1  # touching windows (0 s in common) do not overlap

    utils.get_overlap_between_two_date_ranges = shared_seconds  # type: ignore[assignment]


if __name__ == "__main__":
    patch_rds()
    server.main(sys.argv[1:])
