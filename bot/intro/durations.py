"""Durations written the way a team writes them: 30s, 15m, 20h, 2d."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration such as 30s, 15m, 20h or 2d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
