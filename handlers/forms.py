"""Reading what a person typed in a modal."""

from __future__ import annotations

from typing import Any

from bot.intro.workflow import UnknownRequest
from bot.rendering import messages
from bot.rendering.values import RequestRef


def submitted_values(view: dict[str, Any]) -> dict[str, Any]:
    """A view's state as field -> value, whatever the element ("connector:U1" is "connector")."""
    flat: dict[str, Any] = {}
    for block_id, actions in ((view.get("state") or {}).get("values") or {}).items():
        element = next(iter((actions or {}).values()), None) or {}
        option = element.get("selected_option") or {}
        flat[block_id.split(":", 1)[0]] = (
            element.get("selected_user")
            or element.get("selected_date")
            or option.get("value")
            or element.get("value")
            or ""
        )
    return flat


def request_of(view: dict[str, Any]) -> int:
    """The request a details modal (decline, redirect, not now, edit) was opened for; a modal
    that names none is refused as a gone request would be."""
    ref = RequestRef.decode(view.get("private_metadata"))
    if ref is None:
        raise UnknownRequest(0)
    return ref.id


def errors_by_block(view: dict[str, Any], errors: dict[str, str]) -> dict[str, str]:
    """Errors keyed by the view's actual block ids (a picked connector's block is re-keyed)."""
    actual = {
        str(block.get("block_id", "")).split(":", 1)[0]: str(block.get("block_id"))
        for block in view.get("blocks", [])
        if block.get("block_id")
    }
    return {actual.get(field, field): message for field, message in errors.items()}


def prefill_from(view: dict[str, Any], connector_id: str | None = None) -> messages.ModalPrefill:
    """The request form as it stands, to render it again."""
    values = submitted_values(view)
    return messages.ModalPrefill(
        connector_id=connector_id if connector_id is not None else str(values.get("connector", "")),
        target_name=str(values.get("target_name") or ""),
        target_company=str(values.get("target_company") or ""),
        reason=str(values.get("reason") or ""),
        blurb=str(values.get("blurb") or ""),
        closeness=str(values.get("closeness") or ""),
        share_name=str(values.get("share_name") or ""),
        ask_size=str(values.get("ask_size") or ""),
        anonymous_as=str(values.get("anonymous_as") or ""),
        target_role=str(values.get("target_role") or ""),
    )
