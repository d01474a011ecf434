"""Custom scalars, registered on the schema through `SCALAR_MAP`."""

from __future__ import annotations

from typing import NewType

import strawberry

BigInt = NewType("BigInt", int)


def _parse_big_int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).lstrip("-").isdigit():
        raise ValueError(f"BigInt cannot represent {value!r}")
    return int(value)


SCALAR_MAP = {
    BigInt: strawberry.scalar(
        name="BigInt",
        description="A whole number that may exceed 32 bits (byte sizes); a JSON number or a decimal string.",
        serialize=int,
        parse_value=_parse_big_int,
    )
}
