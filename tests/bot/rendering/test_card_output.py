"""The cards and notices render exactly as recorded before their rendering was made cheaper,
and exactly as Jinja's own code for the templates renders them: for a varied table of
requests (every status, anonymous and named asks, asks for a way in, long notes, names in
any script, text Slack or JSON would read as markup); and any value, in any place a JSON
template may write it, is written as Jinja's own code writes it."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2 import DictLoader, Environment, FileSystemLoader
from markupsafe import Markup

from bot.intro.states import Status
from bot.rendering import messages, templating
from bot.rendering.ids import ActionId, BlockId
from bot.rendering.values import RequestChoice, RequestRef
from bot.templates_dir import TEMPLATES_DIR
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


@pytest.fixture(scope="module")
def jinja_own() -> Environment:
    """The templates' environment as configured, with Jinja's own code for them."""
    return templating.configured(Environment, FileSystemLoader(TEMPLATES_DIR))


@pytest.mark.parametrize("case", range(0, CASES, 3))
def test_each_message_renders_as_jinja_own_code_renders_it(
    case: int, jinja_own: Environment, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours = rendered(case)
    monkeypatch.setattr(templating, "environment", lambda: jinja_own)
    assert rendered(case) == ours


# Every way a JSON template writes a value: on its own, through filters, in a macro, a
# block set, a filter block, a loop, a concatenation, with escaping switched off and on.
PLACES = """{% macro m(v) %}[{{ v }}|{{ v|plain }}]{% endmacro %}
{% set block %}<{{ value }}>{% endset %}
"{{ value }}" {{ m(value) }} {{ block }} {{ value|plain }} {{ value|tojson }}
{{ value|string|mrkdwn_clip(7) }} {{ (value|string) ~ "&" }} {{ m(value) ~ value }}
{% for v in [value, value] %}{{ v }}{{ loop.index }}{% endfor %}
{% filter upper %}{{ value }}{% endfilter %}
{% autoescape false %}{{ value }}{% endautoescape %}
{% autoescape flag %}{{ value }}{% endautoescape %}
{{ RequestRef(7) }} {{ ActionId.ACCEPT }} {{ none }}"""

VALUES = st.one_of(
    st.text(),
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.builds(Markup, st.text()),
    st.builds(RequestRef, st.integers(min_value=0)),
    st.builds(RequestChoice, st.integers(min_value=0), st.text()),
    st.sampled_from([*ActionId, *BlockId, *Status]),
    st.dates().map(lambda d: d if d.year % 2 else datetime(d.year, d.month, d.day)),
    st.lists(st.text(), max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(value=VALUES, flag=st.booleans())
def test_any_value_is_written_as_jinja_own_code_writes_it(value: Any, flag: bool) -> None:
    loader = DictLoader({"places.json.j2": PLACES, "places.txt.j2": PLACES})
    ours = templating.configured(templating.environment().__class__, loader)
    theirs = templating.configured(Environment, loader)
    for name in ("places.json.j2", "places.txt.j2"):
        context = {"value": value, "flag": flag, "none": None}
        assert written(ours, name, context) == written(theirs, name, context)


def written(env: Environment, name: str, context: dict[str, Any]) -> str:
    """The template's text, or the error it stops with (`tojson` takes no dataclass)."""
    try:
        return env.get_template(name).render(context)
    except TypeError as exc:
        return f"TypeError: {exc}"


@pytest.mark.parametrize("case", range(0, CASES, 5))
def test_a_message_kept_as_its_text_reads_as_the_whole_render_parsed(
    case: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cards and notices keep their blocks as rendered (sent to Slack as that text):
    split off the text, they are exactly the whole render's parse."""
    seen: list[str] = []

    def render_and_keep(template: str, /, **context: Any) -> str:
        text = templating.render_json_text(template, **context)
        seen.append(text)
        return text

    monkeypatch.setattr(messages, "render_json_text", render_and_keep)
    rendered(case)
    assert len(seen) >= 3  # the cards and the Accept's notice at least
    for text in seen:
        split = messages.split_message(text)
        assert split is not None
        whole = json.loads(text)
        assert (split[0], json.loads(split[1])) == (whole["text"], whole["blocks"])


@pytest.mark.parametrize(
    ("text", "split"),
    [
        ('{"text": "a", "blocks": []}', ("a", "[]")),
        (
            '\n{\n  "text" : "say \\"hi\\" \\u00e9\\n",\n  "blocks":[{"type": "divider"}]\n}\n',
            ('say "hi" é\n', '[{"type": "divider"}]'),
        ),
        ('{"blocks": [], "text": "a"}', None),
        ('{"text": "a"}', None),
        ('{"text": "a", "blocks": "[]"}', None),
    ],
)
def test_a_message_splits_only_when_text_then_blocks(
    text: str, split: tuple[str, str] | None
) -> None:
    assert messages.split_message(text) == split


def test_a_message_sends_the_blocks_it_reads() -> None:
    message = messages.Message("t", blocks_json='[{"type": "divider"}]')
    assert message.blocks == [{"type": "divider"}]
    assert json.loads(message.blocks_json) == message.blocks
    assert message == messages.Message("t", [{"type": "divider"}])
