"""Rule `no literal secrets`: the secret scan over every committed byte, hand edits included."""

from __future__ import annotations

from tests.support import bundled_tree
from tests.support.rules import problems, replace

RULE = "no literal secrets"


def test_the_generated_tree_passes() -> None:
    assert problems(bundled_tree(), RULE) == []


def test_a_password_written_into_a_connection_url_is_named() -> None:
    path = "business-app/kubernetes/staging/configmaps.yaml"
    line = next(number for number, text in enumerate(bundled_tree()[path].decode().splitlines(), 1)
                if "AUTH_SERVICE_URL:" in text)
    files = replace(bundled_tree(), path, b"http://auth-service", b"http://admin:hunter2hunter2@auth-service")
    assert problems(files, RULE) == [
        f"{path}: line {line}: a password in a URL would be written in plain text; declare it under the service's "
        "secrets"]
