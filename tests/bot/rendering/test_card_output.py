"""The cards and notices render exactly as recorded before their rendering was made cheaper:
for a varied table of requests (every status, anonymous and named asks, asks for a way in,
long notes, names in any script, text Slack or JSON would read as markup)."""

from __future__ import annotations

import json

import pytest

from tests.bot.rendering.card_cases import CASES, EXPECTED, fingerprint, rendered

RECORDED: dict[str, dict[str, str]] = json.loads(EXPECTED.read_text())


def test_the_table_covers_every_case_recorded() -> None:
    assert sorted(RECORDED, key=int) == [str(i) for i in range(CASES)]


@pytest.mark.parametrize("case", range(CASES))
def test_each_message_renders_as_recorded(case: int) -> None:
    got = rendered(case)
    assert sorted(got) == sorted(RECORDED[str(case)])
    for kind, message in got.items():
        assert fingerprint(message) == RECORDED[str(case)][kind], (
            f"case {case}: {kind} now renders as\n{json.dumps(message, indent=1)}"
        )
