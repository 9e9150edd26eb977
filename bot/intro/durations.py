"""Durations written the way a team writes them: 30s, 15m, 20h, 2d."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
# Longer than anything introbot waits for; past it, a date plus the duration may not exist.
LONGEST = timedelta(days=3650)


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration such as 30s, 15m, 20h or 2d")
    number, unit = int(match.group(1)), match.group(2)
    if number > LONGEST / timedelta(**{_UNITS[unit]: 1}):
        raise ValueError(f"{text!r} is longer than {LONGEST.days}d")
    return timedelta(**{_UNITS[unit]: number})
