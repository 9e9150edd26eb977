"""Sampling profiles of a running bot with py-spy, summarised as the top costs.

`py-spy record --format raw` writes one line per distinct stack ("frame;frame;... count");
the summary gives, for the busiest functions, the share of samples where they are on the CPU
themselves (self) and anywhere on the stack (total).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^)]*?)(?::(?P<line>\d+))?\)$")


RATE = 100  # samples per second, unless a caller asks otherwise


def executable() -> str | None:
    """py-spy on PATH, or beside this Python (installed in the virtualenv, not activated)."""
    beside = Path(sys.executable).with_name("py-spy")
    return shutil.which("py-spy") or (str(beside) if beside.exists() else None)


def available() -> bool:
    return executable() is not None


def start(pid: int, out: Path, seconds: float, rate: int = RATE) -> subprocess.Popen[bytes] | None:
    exe = executable()
    if exe is None:
        return None
    return subprocess.Popen(
        [
            exe,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, round(seconds))),
            "--rate",
            str(rate),
            "--format",
            "raw",
            "--nonblocking",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _name(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match.group("file")
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match.group('func')} ({path})"


def summarise(raw: Path, top: int = 25) -> dict[str, Any]:
    self_counts: Counter[str] = Counter()
    total_counts: Counter[str] = Counter()
    samples = 0
    idle = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_name(f) for f in stack.split(";") if f.strip()]
        if not frames:
            continue
        samples += count
        leaf = frames[-1]
        if "select (selectors.py)" in leaf or "poll (" in leaf or leaf.startswith("_run_once"):
            idle += count
        self_counts[leaf] += count
        for name in set(frames):
            total_counts[name] += count

    def share(n: int) -> float:
        return round(100 * n / samples, 1) if samples else 0.0

    return {
        "samples": samples,
        "idle_pct": share(idle),
        "self": [[name, share(n)] for name, n in self_counts.most_common(top)],
        "total": [[name, share(n)] for name, n in total_counts.most_common(top * 2)],
    }


def table(summary: dict[str, Any], limit: int = 15) -> list[str]:
    lines = [
        f"{summary['samples']} samples; event loop idle (waiting in select) "
        f"{summary['idle_pct']} %.",
        "",
        "| self % | function |",
        "|---:|---|",
    ]
    lines += [f"| {pct} | `{name}` |" for name, pct in summary["self"][:limit]]
    lines += ["", "| total % | function |", "|---:|---|"]
    lines += [f"| {pct} | `{name}` |" for name, pct in summary["total"][: limit * 2]]
    return lines
