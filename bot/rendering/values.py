"""What a button carries in its value, written by the templates and read by the listeners.

Each shape is a small frozen dataclass: a template renders it (`{{ RequestRef(r.id) }}`),
a listener decodes it, None when the value is not of that shape (an old or forged button)."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Self

# ASCII digits only (str.isdigit accepts "²", which int() refuses).
_ID = re.compile(r"[0-9]+")
_ROW_ID = re.compile(r"[0-9]{1,9}")  # a Home tab row or page: small enough for the database


class ButtonValue(ABC):
    """A value the templates render encoded (bot.rendering.templating)."""

    @abstractmethod
    def encode(self) -> str: ...


@dataclass(frozen=True)
class RequestRef(ButtonValue):
    """ "<id>": a request's (or an offer's, or a contact's) buttons. A value with a detail
    after the id ("12:meeting_held") names the request too."""

    id: int

    def encode(self) -> str:
        return str(self.id)

    @classmethod
    def decode(cls, raw: object) -> Self | None:
        head = str(raw or "").partition(":")[0]
        return cls(int(head)) if _ID.fullmatch(head) else None


@dataclass(frozen=True)
class RequestChoice(ButtonValue):
    """ "<request id>:<detail>": an outcome stage, the connector's answer to "would they take
    your call?", or the teammate to ask next (empty: whoever the requester picks)."""

    request_id: int
    detail: str

    def encode(self) -> str:
        return f"{self.request_id}:{self.detail}"

    @classmethod
    def decode(cls, raw: object) -> Self | None:
        head, _, detail = str(raw or "").partition(":")
        return cls(int(head), detail) if _ID.fullmatch(head) else None


@dataclass(frozen=True)
class TieCheck(ButtonValue):
    """ "<contact id>:<request id>": whether the connector's old tie to the target holds."""

    contact_id: int
    request_id: int

    def encode(self) -> str:
        return f"{self.contact_id}:{self.request_id}"

    @classmethod
    def decode(cls, raw: object) -> Self | None:
        contact, _, request = str(raw or "").partition(":")
        if _ROW_ID.fullmatch(contact) and _ROW_ID.fullmatch(request):
            return cls(int(contact), int(request))
        return None


@dataclass(frozen=True)
class HomePosition(ButtonValue):
    """ "<page>:<search>": where the Home tab's contact list is (a paging button's value, the
    Home view's metadata); page 0 when none is given."""

    page: int = 0
    search: str = ""

    def encode(self) -> str:
        return f"{self.page}:{self.search}"

    @classmethod
    def decode(cls, raw: object) -> Self:
        page, _, search = str(raw or "").partition(":")
        return cls(int(page) if _ROW_ID.fullmatch(page) else 0, search)


@dataclass(frozen=True)
class DigestPick(ButtonValue):
    """ "<digest id>:<place>": an account in a connector's offer-help digest (the outbox row
    that carried it, and the account's place in it)."""

    digest_id: int
    place: int

    def encode(self) -> str:
        return f"{self.digest_id}:{self.place}"

    @classmethod
    def decode(cls, raw: object) -> Self | None:
        digest, _, place = str(raw or "").partition(":")
        if _ROW_ID.fullmatch(digest) and _ROW_ID.fullmatch(place):
            return cls(int(digest), int(place))
        return None


@dataclass(frozen=True)
class PushRef(ButtonValue):
    """ "<outbox row id>": a failed CRM push an admin tries again."""

    message_id: int

    def encode(self) -> str:
        return str(self.message_id)

    @classmethod
    def decode(cls, raw: object) -> Self | None:
        text = str(raw or "")
        return cls(int(text)) if _ROW_ID.fullmatch(text) else None


def row_id(raw: object) -> int | None:
    """A Home tab row's id from a button's value."""
    text = str(raw or "")
    return int(text) if _ROW_ID.fullmatch(text) else None
