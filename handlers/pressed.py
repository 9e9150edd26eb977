"""What a pressed button, or an option chosen in a menu, names (bot.rendering.values wrote it).

A value that names nothing (an old or forged button) is refused as a gone request or offer
would be: `tells_refusals` tells the person, and nothing else happens."""

from __future__ import annotations

from typing import Any

from bot.intro.workflow import UnknownOffer, UnknownRequest
from bot.rendering.values import RequestChoice, RequestRef


def pressed_value(action: dict[str, Any]) -> str:
    """A button's value, or a menu's chosen option's: Slack sends a menu's in
    `selected_option`, and a button's in `value`."""
    if "selected_option" in action:
        return str((action.get("selected_option") or {}).get("value") or "")
    return str(action.get("value") or "")


def pressed_request(action: dict[str, Any]) -> int:
    """The request a button names."""
    ref = RequestRef.decode(pressed_value(action))
    if ref is None:
        raise UnknownRequest(0)
    return ref.id


def pressed_choice(action: dict[str, Any]) -> RequestChoice:
    """The request a button or menu option names, and the choice it carries."""
    choice = RequestChoice.decode(pressed_value(action))
    if choice is None:
        raise UnknownRequest(0)
    return choice


def pressed_offer(action: dict[str, Any]) -> int:
    """The offer a button names."""
    ref = RequestRef.decode(pressed_value(action))
    if ref is None:
        raise UnknownOffer(0)
    return ref.id
