"""The intro workflow: requests, transitions and the messages they promise. It knows nothing
of Slack.

- `plan`: what a change writes, decided without a database (pure; `now` and the cadence
  passed in): message and dedupe keys, the columns each action sets, the messages and
  reminders it promises, which reminders it makes moot, who may take it.
- `requests`: `IntroWorkflow`, the facade callers hold: submitting and acting on requests.
  It is made of mixins over `orm_path.OrmPath` (the sessions, clock and cadence, and the ORM
  write path every flow shares): `offers` (a connector's offers; second voices after no
  response), `cold` (going in cold), `outside` (a connector outside the team), `queries`
  (reads). Mixins, not composition: each flow
  is a plain method of the one object, and its shared write path needs no delegation.
- `one_statement`: the PostgreSQL write path, each expressible change in one statement,
  built from `plan`'s rules; a test proves it writes what the ORM path writes.
- `errors`: the refusals; `results`: what comes back (`Outcome`, `Lease`, ...).
"""

from bot.intro.workflow.errors import (
    DuplicateSubmission,
    InvalidSuggestion,
    NothingToThank,
    NotYourRequest,
    OfferAlreadyMade,
    OfferAnswered,
    TransitionError,
    UnknownChoice,
    UnknownOffer,
    UnknownRequest,
)
from bot.intro.workflow.plan import (
    FOLLOW_UP_WAIT,
    SECONDARY_OFFERED,
    SYSTEM_ACTOR,
    offer_dedupe_key,
    pointed_from,
    tie_from,
    went_quiet_after_intro,
)
from bot.intro.workflow.requests import IntroWorkflow
from bot.intro.workflow.results import ActionDetails, Lease, OfferOutcome, Outcome, TieUnknown

__all__ = [
    "FOLLOW_UP_WAIT",
    "SECONDARY_OFFERED",
    "SYSTEM_ACTOR",
    "ActionDetails",
    "DuplicateSubmission",
    "IntroWorkflow",
    "InvalidSuggestion",
    "Lease",
    "NothingToThank",
    "NotYourRequest",
    "OfferAlreadyMade",
    "OfferAnswered",
    "OfferOutcome",
    "Outcome",
    "TieUnknown",
    "TransitionError",
    "UnknownChoice",
    "UnknownOffer",
    "UnknownRequest",
    "offer_dedupe_key",
    "pointed_from",
    "went_quiet_after_intro",
    "tie_from",
]
