"""Block Kit as a person would read it, for a terminal: used by `introbot demo`."""

from __future__ import annotations

import re
import sys
import textwrap
from collections.abc import Callable
from typing import Any

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_LINK = re.compile(r"<(https?://[^|>]+)\|([^>]+)>")
_BOLD = re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])")
BOLD_ON, BOLD_OFF = ("\033[1m", "\033[0m") if sys.stdout.isatty() else ("", "")
_EMOJI = {
    ":wave:": "👋",
    ":hourglass_flowing_sand:": "⏳",
    ":speech_balloon:": "💬",
    ":handshake:": "🤝",
    ":raised_hands:": "🙌",
    ":writing_hand:": "✍️",
    ":tada:": "🎉",
    ":no_entry_sign:": "🚫",
    ":calendar:": "📅",
    ":leaves:": "🍃",
    ":twisted_rightwards_arrows:": "🔀",
    ":x:": "❌",
    ":link:": "🔗",
    ":bulb:": "💡",
    ":envelope_with_arrow:": "📩",
    ":white_check_mark:": "✅",
    ":information_source:": "ℹ️",
    ":alarm_clock:": "⏰",
    ":bar_chart:": "📊",
    ":pray:": "🙏",
    ":checkered_flag:": "🏁",
    ":hourglass:": "⌛",
    ":warning:": "⚠️",
    ":incoming_envelope:": "📨",
    ":leftwards_arrow_with_hook:": "↩️",
    ":thinking_face:": "🤔",
    ":inbox_tray:": "📥",
    ":busts_in_silhouette:": "👥",
    ":briefcase:": "💼",
    ":lock:": "🔒",
    ":trophy:": "🏆",
    ":seedling:": "🌱",
    ":envelope:": "✉️",
    ":chart_with_upwards_trend:": "📈",
    ":spiral_calendar_pad:": "🗓️",
    ":mailbox_with_no_mail:": "📭",
    ":mag:": "🔍",
    ":zzz:": "💤",
    ":no_entry:": "⛔",
}


def mrkdwn_to_text(text: str, name_of: Callable[[str], str]) -> str:
    text = _MENTION.sub(lambda m: "@" + name_of(m.group(1)), text)
    text = _LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})", text)
    for code, emoji in _EMOJI.items():
        text = text.replace(code, emoji)
    text = _BOLD.sub(lambda m: f"{BOLD_ON}{m.group(1)}{BOLD_OFF}", text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return text


def _code_aware(text: str) -> list[str]:
    """Lines of a mrkdwn text, with ``` blocks drawn as an indented box."""
    lines: list[str] = []
    for index, chunk in enumerate(text.split("```")):
        if index % 2:
            lines.extend("  │ " + line for line in chunk.strip("\n").splitlines())
        else:
            for line in chunk.strip("\n").splitlines():
                lines.extend(textwrap.wrap(line, 88) or [""])
    return lines


def _text_of(element: dict[str, Any], name_of: Callable[[str], str]) -> str:
    return mrkdwn_to_text(str(element.get("text", "")), name_of)


def render_blocks(blocks: list[dict[str, Any]], name_of: Callable[[str], str]) -> list[str]:
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            lines += ["", "━━ " + _text_of(block["text"], name_of) + " ━━"]
        elif kind == "divider":
            lines.append("─" * 40)
        elif kind == "section":
            if block.get("text"):
                lines += _code_aware(_text_of(block["text"], name_of))
            for field in block.get("fields", []):
                lines += _code_aware(_text_of(field, name_of))
            accessory = block.get("accessory") or {}
            if accessory.get("type") == "button":
                lines.append(f"    [ {_text_of(accessory['text'], name_of)} ]")
        elif kind == "context":
            lines += ["  " + _text_of(e, name_of) for e in block.get("elements", []) if "text" in e]
        elif kind == "actions":
            buttons = [
                f"[ {_text_of(e['text'], name_of)} ]"
                for e in block.get("elements", [])
                if e.get("type") == "button"
            ]
            lines.append("  " + "  ".join(buttons))
        elif kind == "input":
            lines += _render_input(block, name_of)
        elif kind == "image":
            source = (block.get("slack_file") or {}).get("id") or block.get("image_url")
            lines.append(f"  [picture {source}: {block.get('alt_text', '')}]")
    return lines


def _render_input(block: dict[str, Any], name_of: Callable[[str], str]) -> list[str]:
    label = _text_of(block["label"], name_of)
    element = block.get("element") or {}
    value = element.get("initial_value") or ""
    if element.get("initial_user"):
        value = "@" + name_of(element["initial_user"])
    if element.get("type") == "datepicker" and element.get("initial_date"):
        value = "📅 " + str(element["initial_date"])
    if element.get("type") == "static_select" and element.get("initial_option"):
        value = _text_of(element["initial_option"]["text"], name_of)
    optional = " (optional)" if block.get("optional") else ""
    shown = value.replace("\n", " ")[:70] if value else "…"
    return [f"  {label}{optional}: [{shown}]"]


def render_view(view: dict[str, Any], name_of: Callable[[str], str]) -> list[str]:
    title = _text_of(view.get("title") or {"text": "App Home"}, name_of)
    lines = [f"┌ {title}"]
    lines += ["│" + (" " + line if line else "") for line in render_blocks(view["blocks"], name_of)]
    if view.get("submit"):
        lines.append(f"└ [ {_text_of(view['submit'], name_of)} ]")
    return lines
