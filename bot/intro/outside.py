"""A connector outside the team: a customer, an investor, an advisor, with no Slack account.

The requester names them (name, email, how they know the target, how the requester knows
them); introbot gives the requester the ask to send them and asks the requester, at each
step, what the connector said. These are the rules on what the form holds, without I/O."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache

from bot.intro.matching import same_person
from bot.templates_dir import TEMPLATES_DIR
from storage.models import IntroRequest

NAME_MAX = 200
EMAIL_MAX = 254
TIE_MAX = 300
# The most open asks a workspace's teammates may have with one outside connector at once when
# the workspace enforces pacing (they set no limit of their own: they have no Slack account).
OPEN_ASKS_LIMIT = 3
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@lru_cache(maxsize=1)
def _phrases() -> dict[str, str]:
    phrases: dict[str, str] = json.loads(
        (TEMPLATES_DIR / "outside.json").read_text(encoding="utf-8")
    )
    return phrases


def say(code: str, **params: object) -> str:
    """A phrase from templates/outside.json, filled in."""
    return _phrases()[code].format(**params)


@dataclass(frozen=True)
class OutsideConnector:
    """Someone outside the team who knows the target, as the requester described them."""

    name: str
    email: str
    knows_target: str  # how they know the target
    knows_them: str  # how the requester knows them

    @classmethod
    def typed(cls, name: str, email: str, knows_target: str, knows_them: str) -> OutsideConnector:
        """As typed in the form, trimmed; the email folded to lower case (one person, one
        address, whoever typed it)."""
        return cls(name.strip(), email.strip().lower(), knows_target.strip(), knows_them.strip())


# The form's fields, by block id.
NAME, EMAIL, KNOWS_TARGET, KNOWS_THEM = (
    "outside_name",
    "outside_email",
    "outside_knows_target",
    "outside_knows_them",
)


def review_connector(connector: OutsideConnector, requester_email: str = "") -> dict[str, str]:
    """What blocks the form (block id -> problem): each field given, within its column, the
    email an email and not the requester's own."""
    errors: dict[str, str] = {}
    for block, value, missing, limit in (
        (NAME, connector.name, "name_missing", NAME_MAX),
        (EMAIL, connector.email, "email_missing", EMAIL_MAX),
        (KNOWS_TARGET, connector.knows_target, "knows_target_missing", TIE_MAX),
        (KNOWS_THEM, connector.knows_them, "knows_them_missing", TIE_MAX),
    ):
        if not value:
            errors[block] = say(missing)
        elif len(value) > limit:
            errors[block] = say("too_long", limit=limit, length=len(value))
    if EMAIL not in errors:
        if not _EMAIL.match(connector.email):
            errors[EMAIL] = say("email_invalid")
        elif requester_email and connector.email == requester_email.strip().lower():
            errors[EMAIL] = say("self")
    return errors


def review_open_asks(
    connector_name: str, open_asks: int, others: list[str], *, enforce: bool
) -> tuple[str | None, str | None]:
    """The form's word on the asks the team already has open with this connector: (a problem
    that blocks, advice). Pacing enforced by the workspace refuses an ask past the limit;
    otherwise a heads-up names who else is asking."""
    if open_asks <= 0:
        return None, None
    if enforce and open_asks >= OPEN_ASKS_LIMIT:
        return say("open_asks_limit", connector=connector_name, count=open_asks), None
    names = [name for name in others if name]
    from_whom = f" (from {', '.join(names)})" if names else ""
    plural = "" if open_asks == 1 else "s"
    words = say(
        "open_asks", connector=connector_name, count=open_asks, plural=plural, others=from_whom
    )
    return None, words


def asks_for_person(open_asks: list[IntroRequest], target_name: str) -> list[IntroRequest]:
    """Of the open asks to one outside connector, those for this person (matched as the
    directory matches a name): a second such ask is a duplicate, whoever makes it."""
    return [ask for ask in open_asks if same_person(ask.target_name, target_name)]
