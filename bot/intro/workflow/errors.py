"""The workflow's refusals: what a person tried that the request (or offer) does not allow.

Each is a `TransitionError` (from the state machine), so a caller can catch them all at once;
`DuplicateSubmission` is not one: the request was stored, only once.
"""

from __future__ import annotations

from bot.intro.states import OfferStatus, Role
from bot.intro.states import TransitionError as TransitionError
from storage.models import IntroOffer, IntroRequest


class UnknownRequest(TransitionError):
    def __init__(self, request_id: int) -> None:
        super().__init__(f"no intro request {request_id}")
        self.request_id = request_id


class NotYourRequest(TransitionError):
    def __init__(self, role: Role, party_id: str) -> None:
        super().__init__(f"only the request's {role.value} can do that")
        self.role = role
        self.party_id = party_id


class InvalidSuggestion(TransitionError):
    pass


class UnknownChoice(TransitionError):
    """A button's choice the workflow has no meaning for (an outcome stage or an answer that
    no template renders: an old or forged button)."""

    def __init__(self, choice: str) -> None:
        super().__init__(f"unknown choice {choice!r}")
        self.choice = choice


class DuplicateSubmission(Exception):
    """The same form was submitted again (a double click, or two replicas): stored once."""

    def __init__(self, request: IntroRequest) -> None:
        super().__init__(f"request {request.id} was already stored from this form")
        self.request = request


class UnknownOffer(TransitionError):
    def __init__(self, offer_id: int) -> None:
        super().__init__(f"no intro offer {offer_id}")


class OfferAnswered(TransitionError):
    """The offer was taken or passed already (a second press, or the other button first)."""

    def __init__(self, offer: IntroOffer) -> None:
        super().__init__(f"offer {offer.id} is {offer.status}")
        # Plain values: the row is expired once its transaction rolls back.
        self.status = OfferStatus(offer.status)
        self.connector_id = offer.connector_id


class OfferAlreadyMade(TransitionError):
    """The connector offered this teammate this person already, and it is still unanswered."""


class NothingToThank(TransitionError):
    """Thanks for a request with no connector, or not at a point thanks are asked for."""

    def __init__(self) -> None:
        super().__init__("That button is out of date, so nothing changed.")
