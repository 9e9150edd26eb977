"""What introbot keeps of people, and how it lets go of it.

Third parties' emails are kept only as a keyed hash. An email in a contact serves one purpose:
to recognise the same person when its owner adds or imports them again. An HMAC does that as
well as the address, and a copy of the database (a backup, a replica, a leaked dump) no longer
lists the people a team knows. The key is a secret from settings; without it the hashes cannot
be recomputed from a list of guessed addresses.

A person who says `/intro forget me` is forgotten in one call, `forget_me`.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, cast

from sqlalchemy import Table, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.intro.states import Status
from storage.models import (
    AccountOwner,
    ConnectorPrefs,
    Contact,
    DigestAccount,
    IntroOffer,
    IntroRequest,
    OutboundMessage,
    Profile,
    TargetAccount,
    TeamChart,
    TeamMember,
)

HASH_PREFIX = "email:"  # a contact's identity key when an email was given
# What a forgotten person's name becomes on the requests they took part in: the others on
# those requests still read a sentence that makes sense.
FORMER_TEAMMATE = "a former teammate"
_DERIVATION_LABEL = b"introbot contact email v1"


def derive_hash_key(secret: str) -> bytes:
    """A key of its own, derived from an app secret, so the secret itself is never the key."""
    return hmac.new(secret.encode(), _DERIVATION_LABEL, hashlib.sha256).digest()


def email_fingerprint(key: bytes, email: str) -> str:
    """The keyed hash of an email (case and surrounding spaces ignored): 64 hex characters."""
    return hmac.new(key, email.strip().lower().encode(), hashlib.sha256).hexdigest()


async def forget_me(sessions: async_sessionmaker[AsyncSession], team_id: str, user_id: str) -> int:
    """`/intro forget me`, in one transaction: the person's contacts, settings and profile go
    (`delete_person`), and the words they wrote in requests and offers are erased
    (`_erase_words_of`). Returns how many contacts went."""
    async with sessions.begin() as session:
        forgotten = await delete_person(session, team_id, user_id)
        await _erase_words_of(session, team_id, user_id)
    return forgotten


async def delete_person(session: AsyncSession, team_id: str, user_id: str) -> int:
    """What introbot keeps of a person: their contacts, their settings (pacing, sharing,
    accounts routed to them, the team they manage or are named on, what their offer-help
    digests told them), their own list of target accounts and the profile kept of them.
    Returns how many contacts went."""
    contacts = await session.execute(
        delete(Contact).where(Contact.team_id == team_id, Contact.owner_id == user_id)
    )
    await session.execute(
        delete(ConnectorPrefs).where(
            ConnectorPrefs.team_id == team_id, ConnectorPrefs.user_id == user_id
        )
    )
    await session.execute(
        delete(AccountOwner).where(
            AccountOwner.team_id == team_id, AccountOwner.owner_id == user_id
        )
    )
    await session.execute(
        delete(Profile).where(Profile.team_id == team_id, Profile.user_id == user_id)
    )
    await session.execute(
        delete(TargetAccount).where(
            TargetAccount.team_id == team_id, TargetAccount.list_owner_id == user_id
        )
    )
    # The team they manage, and their place on a team (a user group's members are Slack's).
    await session.execute(
        delete(TeamMember).where(
            TeamMember.team_id == team_id,
            (TeamMember.manager_id == user_id)
            | ((TeamMember.member_id == user_id) & TeamMember.is_group.is_(False)),
        )
    )
    await session.execute(
        delete(TeamChart).where(TeamChart.team_id == team_id, TeamChart.manager_id == user_id)
    )
    await session.execute(
        delete(DigestAccount).where(
            DigestAccount.team_id == team_id, DigestAccount.connector_id == user_id
        )
    )
    return int(contacts.rowcount or 0)  # type: ignore[attr-defined]


async def _erase_words_of(session: AsyncSession, team_id: str, user_id: str) -> None:
    """Every column that holds a person's words or details on the requests and offers they
    took part in (`storage.models.personal`) is erased: as requester, their name, title,
    email, why, note and the link to their message; as connector, their name, how well they
    know the target, a decline's kind word, a suggestion's note, an offer's why; and what the
    requester typed about a connector outside the team (their name, email and ties). Their
    reason to hold off as an account owner, and the thanks they wrote their connectors, go too.
    Statuses, steps and dates stay, so the funnel still counts."""
    requests = cast(Table, IntroRequest.__table__)
    for side, whose in (
        (requests.c.requester_id, "requester"),
        (requests.c.connector_id, "connector"),
    ):
        await session.execute(
            update(IntroRequest)
            .where(IntroRequest.team_id == team_id, side == user_id)
            .values(**erased(requests, whose))
        )
    # A connector outside the team has no Slack id: their name is what the requester typed.
    await session.execute(
        update(IntroRequest)
        .where(
            IntroRequest.team_id == team_id,
            IntroRequest.requester_id == user_id,
            IntroRequest.connector_outside.is_(True),
        )
        .values(connector_name="")
    )
    await session.execute(
        update(IntroRequest)
        .where(
            IntroRequest.team_id == team_id,
            IntroRequest.account_owner_id == user_id,
            IntroRequest.status == Status.OWNER_DECLINED,
        )
        .values(decline_reason=None)
    )
    # The thanks they wrote their connectors, kept with the message that carries them.
    await session.execute(
        update(OutboundMessage)
        .where(
            OutboundMessage.team_id == team_id,
            OutboundMessage.dedupe_key.like("%:notice:thanks:%"),
            OutboundMessage.request_id.in_(
                select(IntroRequest.id).where(
                    IntroRequest.team_id == team_id, IntroRequest.requester_id == user_id
                )
            ),
        )
        .values(data={"event": "thanks"})
    )
    await session.execute(
        update(IntroOffer)
        .where(IntroOffer.team_id == team_id, IntroOffer.connector_id == user_id)
        .values(**erased(cast(Table, IntroOffer.__table__), "connector"))
    )


def erased(table: Table, whose: str) -> dict[str, Any]:
    """The values that erase `whose` personal columns of `table`."""
    return {
        column.key: (
            FORMER_TEAMMATE
            if column.info.get("erased_as_name")
            else (None if column.nullable else "")
        )
        for column in table.columns
        if column.info.get("personal") == whose
    }
