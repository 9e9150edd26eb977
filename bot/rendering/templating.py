"""One Jinja environment for templates/, with escaping made for Slack.

`*.json.j2` templates render Block Kit JSON: every `{{ value }}` is escaped for mrkdwn
(only `&`, `<`, `>`, which is what stops `<!channel>` and fake mentions) and then for a JSON
string. `|plain` skips the mrkdwn step for plain_text fields and input values, which Slack
shows literally. `*.txt.j2` templates render plain text with nothing escaped.
"""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from datetime import datetime
from enum import Enum
from functools import lru_cache
from json.encoder import encode_basestring
from typing import Any

from jinja2 import (
    BaseLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    nodes,
    pass_eval_context,
)
from jinja2.compiler import CodeGenerator, Frame
from jinja2.nodes import EvalContext
from markupsafe import Markup

from bot.rendering.ids import ActionFamily, ActionId, BlockId, CallbackId
from bot.rendering.values import (
    ButtonValue,
    DigestPick,
    HomePosition,
    PushRef,
    RequestChoice,
    RequestRef,
    TieCheck,
)
from bot.templates_dir import TEMPLATES_DIR


def escape_mrkdwn(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _json_string_body(text: str) -> str:
    # What json.dumps(text, ensure_ascii=False) writes, without a new encoder per call.
    return encode_basestring(text)[1:-1]


# Markup(text) for a str already safe: without Markup.__new__'s look for `__html__`.
_markup = str.__new__


@pass_eval_context
def _finalize(eval_ctx: EvalContext, value: Any) -> Any:
    # Jinja's autoescape flag marks the JSON templates; Markup tells Jinja not to HTML-escape.
    # (Templates that do not switch escaping as they render skip this: `_SlackCodeGenerator`.)
    if eval_ctx.autoescape:
        return _markup(Markup, _json_value(value))
    # Values Slack hands back as they were: the listener decodes them, so no mrkdwn.
    return value.encode() if isinstance(value, ButtonValue) else value


# A JSON template's constant values (ActionId, BlockId...: str enums) as written: an enum
# equal to a str writes as that str does, so equal keys write alike.
_ENUM_WRITTEN: dict[str, str] = {}


def _json_value(value: Any) -> str:
    """A value as a JSON template writes it: escaped for mrkdwn and as a JSON string's body
    (a number, a boolean as JSON; None as nothing); Markup and button values (which Slack
    hands back as they were) without mrkdwn escaping."""
    if type(value) is str:
        return encode_basestring(escape_mrkdwn(value))[1:-1]
    if isinstance(value, Markup):
        return value
    if isinstance(value, ButtonValue):
        return encode_basestring(value.encode())[1:-1]
    if isinstance(value, Enum) and isinstance(value, str):
        written = _ENUM_WRITTEN.get(value)
        if written is None:
            written = _ENUM_WRITTEN[value] = _json_string_body(escape_mrkdwn(str(value)))
        return written
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return _json_string_body(escape_mrkdwn(str(value)))


def trusted_mrkdwn(text: str) -> Markup:
    """Text the bot built and escaped itself (it may hold mentions), for a JSON template."""
    return _markup(Markup, _json_string_body(text))


def _plain(value: Any) -> Markup:
    return _markup(Markup, _json_string_body("" if value is None else str(value)))


def _tojson(value: Any) -> Markup:
    return Markup(json.dumps(value, ensure_ascii=False))


def _mrkdwn_clip(value: Any, limit: int) -> Markup:
    """Escape, then clip to `limit` characters as Slack counts them, never splitting `&amp;`."""
    escaped = escape_mrkdwn("" if value is None else str(value))
    if len(escaped) > limit:
        cut = escaped[: limit - 1]
        amp = cut.rfind("&")
        if amp != -1 and ";" not in cut[amp:]:
            cut = cut[:amp]
        escaped = cut + "…"
    return trusted_mrkdwn(escaped)


def _slack_date(moment: datetime) -> Markup:
    """A moment as Slack shows dates, in the reader's own time zone (UTC where it can't)."""
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return trusted_mrkdwn(
        f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"
    )


def _truncate_chars(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


# What every Slack template may name: the ids listeners are registered for, and the shapes
# of the values their buttons carry.
TEMPLATE_NAMES: dict[str, Any] = {
    "ActionId": ActionId,
    "ActionFamily": ActionFamily,
    "CallbackId": CallbackId,
    "BlockId": BlockId,
    "RequestRef": RequestRef,
    "RequestChoice": RequestChoice,
    "TieCheck": TieCheck,
    "HomePosition": HomePosition,
    "DigestPick": DigestPick,
    "PushRef": PushRef,
}


class _SlackCodeGenerator(CodeGenerator):
    """Writes a JSON template's values through `_json_value` alone. Jinja's own code writes
    `escape(environment.finalize(context.eval_ctx, value))`: `_finalize` escapes every value
    for JSON already (as Markup), which `escape` then makes a new Markup of, twice, for each
    value; templates that switch escaping as they render (volatile) keep Jinja's code."""

    def _output_child_pre(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        if frame.eval_ctx.autoescape and not frame.eval_ctx.volatile:
            self.write("environment.json_value(")
        else:
            super()._output_child_pre(node, frame, finalize)

    def _output_child_post(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        if frame.eval_ctx.autoescape and not frame.eval_ctx.volatile:
            self.write(")")
        else:
            super()._output_child_post(node, frame, finalize)


class _SlackEnvironment(Environment):
    code_generator_class = _SlackCodeGenerator
    json_value = staticmethod(_json_value)

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        # One plain dict per template, not Jinja's ChainMap over the environment's globals:
        # every render copies a template's globals into its context (and an import compares
        # their keys), which a ChainMap makes a walk in Python. The environment's globals are
        # all set when it is made, before any template is loaded.
        return {**self.globals, **(d or {})}


@lru_cache(maxsize=1)
def environment() -> Environment:
    return configured(_SlackEnvironment, FileSystemLoader(TEMPLATES_DIR))


def configured(kind: type[Environment], loader: BaseLoader) -> Environment:
    """An environment of `kind` set up as the Slack templates' is (the tests compare it with
    Jinja's own)."""
    env = kind(
        loader=loader,
        autoescape=lambda name: bool(name and name.endswith(".json.j2")),
        finalize=_finalize,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        # The templates ship with the code: no file check on every render.
        auto_reload=False,
    )
    env.filters["plain"] = _plain
    env.filters["tojson"] = _tojson
    env.filters["clip"] = _truncate_chars
    env.filters["mrkdwn_clip"] = _mrkdwn_clip
    env.filters["slack_date"] = _slack_date
    env.globals.update(TEMPLATE_NAMES)
    return env


def render_text(template: str, /, **context: Any) -> str:
    return environment().get_template(template).render(**context).strip()


def render_json(template: str, /, **context: Any) -> Any:
    rendered = environment().get_template(template).render(**context)
    try:
        return json.loads(rendered)
    except json.JSONDecodeError as exc:
        raise ValueError(f"template {template} rendered invalid JSON: {exc}") from exc


def render_json_text(template: str, /, **context: Any) -> str:
    """A JSON template's text, not parsed: for a payload Slack takes as a JSON string (a
    view), sent as rendered instead of parsed here and encoded again by slack_sdk."""
    return environment().get_template(template).render(**context)


@lru_cache(maxsize=1)
def _html_environment() -> Environment:
    # Web pages (the install page): HTML-escaped, unlike the Slack templates.
    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(template: str, /, **context: Any) -> str:
    return _html_environment().get_template(template).render(**context)
