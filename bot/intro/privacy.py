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

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.intro.states import Status
from storage.models import (
    AccountOwner,
    ConnectorPrefs,
    Contact,
    IntroOffer,
    IntroRequest,
    OutboundMessage,
    Profile,
)

HASH_PREFIX = "email:"  # a contact's identity key when an email was given
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
    accounts routed to them) and the profile kept of them. Returns how many contacts went."""
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
    return int(contacts.rowcount or 0)  # type: ignore[attr-defined]


async def _erase_words_of(session: AsyncSession, team_id: str, user_id: str) -> None:
    """The words a person wrote in requests (as requester: why, the note, their name, their
    thanks to a connector; as connector: a decline's kind word, a suggestion's note; as account
    owner: their reason to hold off; an offer's why) are erased.
    Statuses, steps and dates stay, so the funnel still counts."""
    await session.execute(
        update(IntroRequest)
        .where(IntroRequest.team_id == team_id, IntroRequest.requester_id == user_id)
        .values(reason="", blurb="", requester_name="", source_permalink=None)
    )
    await session.execute(
        update(IntroRequest)
        .where(IntroRequest.team_id == team_id, IntroRequest.connector_id == user_id)
        .values(decline_reason=None, suggestion_note=None)
    )
    # As an account owner: their reason to hold off.
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
    # Why they thought two people should meet, in the offers they made.
    await session.execute(
        update(IntroOffer)
        .where(IntroOffer.team_id == team_id, IntroOffer.connector_id == user_id)
        .values(reason="")
    )
