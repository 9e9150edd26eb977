"""CPU of /intro's two views as JSON, in process: the form rendered as text and sent on as
text, against the same form rendered, parsed into dicts and encoded again.

Per `/intro Jane Doe` that finds three teammates: the form to open, the views.open body as
aiohttp encodes it (`json.dumps`, slack_sdk's `json=` argument), the findings rendered into
the form, and the views.update body. "parsed" does it as the handlers did before they sent
the text: `intro_modal` (render, `json.loads`), the findings rendered, parsed and spliced
into the view's blocks, each body encoded from dicts. "text" is what the handlers do now
(`intro_form`, `intro_with_findings`). Rounds alternate A B B A, so a machine that slows
down slows both alike; the ratio is text's CPU over parsed's, summed over the rounds.

    python -m bench.intro_json [--rounds 8] [--requests 2000]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import date
from typing import Any

from bot.intro.directory import Suggestion
from bot.rendering import messages
from bot.rendering.templating import render_json_text
from bot.rendering.texts import labels

PREFILL = messages.ModalPrefill(target_name="Jane Doe")
SUGGESTIONS = [
    Suggestion("U01", 0.9, "know_well", date(2019, 5, 1), 2, 1, "Jane Doe", "Acme", True),
    Suggestion("U02", 0.5, "", None, 0, 0, "Jane Doe", "Acme", True, tie="connected"),
    Suggestion("U03", 0.4, "met_once", None, 1, 3, "J. Doe", "Acme", False, tie="lapsed"),
]
HINT_BLOCKS = frozenset({"source_hint", "offer_hint", "better_person_hint"})


def parsed() -> tuple[str, str]:
    """The views built as dicts, as slack_sdk is handed them: the two bodies aiohttp sends."""
    shown = messages.intro_modal(PREFILL, messages.ModalContext())
    opened = json.dumps({"trigger_id": "1.2.abc", "view": shown})
    findings = render_json_text(
        "intro_findings.json.j2",
        prefill=PREFILL,
        way_in=PREFILL.way_in,
        suggestions=SUGGESTIONS,
        flags=[],
        searched=True,
        tie_shared=labels()["tie_shared"],
        pacing=labels()["pacing"],
    )
    blocks: list[dict[str, Any]] = shown["blocks"]
    at = next((i for i, b in enumerate(blocks) if b.get("block_id") not in HINT_BLOCKS), 0)
    found = json.loads(f"[{findings} null]")[:-1]
    updated = {**shown, "blocks": [*blocks[:at], *found, *blocks[at:]]}
    return opened, json.dumps({"view_id": "V1", "hash": "h", "view": updated})


def text() -> tuple[str, str]:
    """The views as JSON text, sent on as text: the two bodies aiohttp sends."""
    form = messages.intro_form(PREFILL, messages.ModalContext())
    opened = json.dumps({"trigger_id": "1.2.abc", "view": form.with_findings()})
    updated = messages.intro_with_findings(
        form, PREFILL, suggestions=SUGGESTIONS, flags=[], searched=True
    )
    return opened, json.dumps({"view_id": "V1", "hash": "h", "view": updated})


def views(bodies: tuple[str, str]) -> list[Any]:
    """The views as Slack reads them from the bodies (a JSON string decoded once more)."""
    found = [json.loads(body)["view"] for body in bodies]
    return [json.loads(view) if isinstance(view, str) else view for view in found]


def cpu_of(work: Callable[[], tuple[str, str]], requests: int) -> float:
    """Seconds of this process's CPU for `requests` runs of `work`."""
    started = time.process_time()
    for _ in range(requests):
        work()
    return time.process_time() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8, help="A B B A ... (a multiple of 4)")
    parser.add_argument("--requests", type=int, default=2000, help="per round")
    args = parser.parse_args(argv)
    # Slack receives the same views either way, the form whole-rendered with its findings.
    whole = messages.intro_modal(
        PREFILL, messages.ModalContext(), suggestions=SUGGESTIONS, searched=True
    )
    assert views(text()) == views(parsed()) == [views(parsed())[0], whole]
    for work in (parsed, text):  # templates loaded and compiled, caches warm
        cpu_of(work, 200)
    spent = {"parsed": 0.0, "text": 0.0}
    order = ["parsed", "text", "text", "parsed"]
    for round_ in range(args.rounds):
        name = order[round_ % 4]
        spent[name] += cpu_of(parsed if name == "parsed" else text, args.requests)
    each = args.requests * args.rounds / 2
    print(f"views.open + views.update bodies, {args.rounds} rounds x {args.requests} /intro")
    print(f"parsed and encoded again: {1000 * spent['parsed'] / each:.3f} ms of CPU per /intro")
    print(f"rendered text sent as is: {1000 * spent['text'] / each:.3f} ms of CPU per /intro")
    print(f"ratio text / parsed: {spent['text'] / spent['parsed']:.2f}")
    sizes = [sum(map(len, work())) for work in (parsed, text)]
    print(f"bytes sent per /intro: {sizes[0]} parsed, {sizes[1]} as text")


if __name__ == "__main__":
    main()
