"""`introbot serve` with a change under study patched in, to measure it against the code as is.

A variant is a function that patches the bot in-process before it starts:

`python -m bench.variants NAME[,NAME...] -- serve --host 127.0.0.1 --port PORT`

`bench.side_by_side --variant NAME` runs it against the plain bot in turn (A B, B A, ...), and
`bench.run --after-variant NAME` measures it in a phase of its own after the main cells.

A variant lives here only while its change is open. Once the change is merged or dropped the
variant goes, since it patches the code as it stood when it was written. None is open now;
docs/performance.md records what the merged ones measured.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

VARIANTS: dict[str, Callable[[], None]] = {}


def patches(names: str) -> list[Callable[[], None]]:
    """The patches for comma-separated variant names ("" and "none" name none)."""
    wanted = [name for name in names.split(",") if name and name != "none"]
    unknown = [name for name in wanted if name not in VARIANTS]
    if unknown:
        known = ", ".join(sorted(VARIANTS)) or "none at present"
        raise SystemExit(f"unknown variant {', '.join(unknown)}; bench/variants.py has: {known}")
    return [VARIANTS[name] for name in wanted]


def main() -> int:
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    for patch in patches(",".join(argv[:split])):
        patch()
    from bot.wiring.cli import main as introbot

    return introbot(argv[split + 1 :])


if __name__ == "__main__":
    raise SystemExit(main())
