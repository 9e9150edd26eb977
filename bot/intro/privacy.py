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
from typing import Protocol

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import IntroOffer, IntroRequest

HASH_PREFIX = "email:"  # a contact's identity key when an email was given
_DERIVATION_LABEL = b"introbot contact email v1"


def derive_hash_key(secret: str) -> bytes:
    """A key of its own, derived from an app secret, so the secret itself is never the key."""
    return hmac.new(secret.encode(), _DERIVATION_LABEL, hashlib.sha256).digest()


def email_fingerprint(key: bytes, email: str) -> str:
    """The keyed hash of an email (case and surrounding spaces ignored): 64 hex characters."""
    return hmac.new(key, email.strip().lower().encode(), hashlib.sha256).hexdigest()


class PeopleDirectory(Protocol):
    async def forget_person(self, team_id: str, user_id: str) -> int: ...


async def forget_me(
    sessions: async_sessionmaker[AsyncSession],
    directory: PeopleDirectory,
    team_id: str,
    user_id: str,
) -> int:
    """`/intro forget me`: the person's contacts, settings and profile go (the directory's
    `forget_person`), and the words they wrote in requests and offers are erased
    (`_erase_words_of`). Returns how many contacts went."""
    forgotten = await directory.forget_person(team_id, user_id)
    await _erase_words_of(sessions, team_id, user_id)
    return forgotten


async def _erase_words_of(
    sessions: async_sessionmaker[AsyncSession], team_id: str, user_id: str
) -> int:
    """The words a person wrote in requests (as requester: why, the note, their name; as
    connector: a decline's kind word, a suggestion's note; an offer's why) are erased.
    Statuses, steps and dates stay, so the funnel still counts. Returns the requests touched."""
    async with sessions.begin() as session:
        asked = await session.execute(
            update(IntroRequest)
            .where(IntroRequest.team_id == team_id, IntroRequest.requester_id == user_id)
            .values(reason="", blurb="", requester_name="", source_permalink=None)
        )
        answered = await session.execute(
            update(IntroRequest)
            .where(IntroRequest.team_id == team_id, IntroRequest.connector_id == user_id)
            .values(decline_reason=None, suggestion_note=None)
        )
        # Why they thought two people should meet, in the offers they made.
        await session.execute(
            update(IntroOffer)
            .where(IntroOffer.team_id == team_id, IntroOffer.connector_id == user_id)
            .values(reason="")
        )
        touched = asked.rowcount + answered.rowcount  # type: ignore[attr-defined]
        return int(touched or 0)
