"""An aws CLI that knows the clusters that exist (`<state>/aws/clusters/<name>`, made by the terraform stand-in's
applies or by the test) and who is signed in. Any other call is refused, so a job's new call shows up in a test."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from stand_in import Call, Refused, run


def main(call: Call) -> int:
    args = call.args
    if args[:2] == ["eks", "describe-cluster"]:
        name = args[args.index("--name") + 1]
        cluster = call.state / "clusters" / name
        if not cluster.is_file():
            raise Refused("An error occurred (ResourceNotFoundException) when calling the DescribeCluster operation: "
                          f"No cluster found for name: {name}.", 254)
        print(cluster.read_text().strip())
        return 0
    if args[:2] == ["sts", "get-caller-identity"]:
        print(os.environ.get("STAND_IN_ROLE", ""))
        return 0
    raise Refused(f"the aws stand-in does not know `aws {' '.join(args)}`", 2)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    run("aws", main)
