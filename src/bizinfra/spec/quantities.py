"""Parsing of the small unit languages the spec uses: CPU, memory, durations, percentages.

Kubernetes quantity suffixes follow the Kubernetes resource model
(https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

# Bounded digits: no real quantity needs more, and a number of thousands of digits breaks what prints it.
_NUMBER = r"([0-9]{1,12}(?:\.[0-9]{1,9})?)"
_CPU = re.compile(rf"^{_NUMBER}(m?)$")
_MEMORY = re.compile(rf"^{_NUMBER}(Ki|Mi|Gi|Ti|k|M|G|T)?$")
_DURATION = re.compile(rf"^{_NUMBER}(ms|s|m|h|d)$")

_MEMORY_FACTORS = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}
_DURATION_SECONDS = {"ms": Decimal("0.001"), "s": Decimal(1), "m": Decimal(60), "h": Decimal(3600), "d": Decimal(86400)}


def millicores(text: str) -> int:
    """`100m` -> 100, `0.5` -> 500, `2` -> 2000."""
    match = _CPU.match(text)
    if not match:
        raise ValueError(f"'{text}' is not a CPU quantity; expected e.g. 100m, 0.5 or 2")
    number, milli = Decimal(match[1]), match[2]
    value = number if milli else number * 1000
    if value != value.to_integral_value() or value <= 0:
        raise ValueError(f"'{text}' is not a whole, positive number of millicores")
    return int(value)


def memory_bytes(text: str) -> int:
    """`256Mi` -> 268435456, `1G` -> 1000000000."""
    match = _MEMORY.match(text)
    if not match:
        raise ValueError(f"'{text}' is not a memory quantity; expected e.g. 256Mi, 1Gi or 512M")
    value = Decimal(match[1]) * _MEMORY_FACTORS[match[2] or ""]
    if value != value.to_integral_value() or value <= 0:
        raise ValueError(f"'{text}' is not a whole, positive number of bytes")
    return int(value)


def seconds(text: str) -> Decimal:
    """`500ms` -> 0.5, `5m` -> 300, `30d` -> 2592000."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"'{text}' is not a duration; expected a number and one of ms, s, m, h, d (e.g. 1s, 5m, 30d)")
    value = Decimal(match[1]) * _DURATION_SECONDS[match[2]]
    if value <= 0:
        raise ValueError(f"'{text}' must be longer than zero")
    return value


def percent(value: object) -> Decimal:
    """`5%`, `"5"` or `5` -> Decimal('5'); a percentage strictly between 0 and 100."""
    text = str(value).strip().removesuffix("%").strip() if not isinstance(value, bool) else ""
    try:
        number = Decimal(text) if len(text) <= 30 else Decimal("NaN")
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite():  # Decimal reads 'nan' and 'inf', which compare with nothing
        raise ValueError(f"'{value}' is not a percentage; expected e.g. 5% or 99.9")
    if not 0 < number < 100:
        raise ValueError(f"must be between 0% and 100%, exclusive (got {value})")
    return number
