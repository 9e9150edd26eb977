"""What a CRM is told of an intro, and when: the rules, with no I/O.

A request is pushed to the workspace's CRM when the intro is made (or the requester goes in
cold) and at each outcome stage the requester reports after it, once per stage. Declined,
withdrawn and stalled asks push nothing: the CRM hears of people who agreed to meet, or whom
the requester approached, never of a no.

The vendors' adapters (bot.delivery.crm) turn a `CrmRecord` into their own calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.intro.states import Action

# The lead source of an intro the CRM record carries, and of a cold approach.
LEAD_SOURCE_WARM = "Warm Introduction"
LEAD_SOURCE_COLD = "Cold Outreach"

# The custom contact properties introbot writes in HubSpot (created on connecting if it may).
HUBSPOT_LEAD_SOURCE = "introbot_lead_source"
HUBSPOT_REFERRED_BY = "introbot_referred_by"
HUBSPOT_REQUEST_ID = "introbot_request_id"
HUBSPOT_PROPERTIES = (HUBSPOT_LEAD_SOURCE, HUBSPOT_REFERRED_BY, HUBSPOT_REQUEST_ID)

# What a Salesforce org needs on Lead (and Contact for the referrer): the lead source values,
# who referred, and introbot's external id, which makes the Lead's upsert idempotent.
SALESFORCE_REFERRED_BY = "Referred_By__c"
SALESFORCE_KEY = "Introbot_Key__c"


class CrmVendor(StrEnum):
    HUBSPOT = "hubspot"
    SALESFORCE = "salesforce"


# How each CRM is named to the people who read about it.
VENDOR_LABEL: dict[str, str] = {CrmVendor.HUBSPOT: "HubSpot", CrmVendor.SALESFORCE: "Salesforce"}

# The notice an admin gets when the workspace's CRM stopped taking pushes (the connection is
# paused until they connect it again): its event, and why it stopped.
CRM_PAUSED = "crm_paused"
PAUSED_REFUSED = "refused"  # the CRM refused the credentials (a 401)
PAUSED_UNREADABLE = "unreadable"  # stored under another INTROBOT_SECRET_KEY


class CrmStage(StrEnum):
    """A step of a request the CRM hears of: each is pushed once."""

    INTRO_MADE = "intro_made"
    WENT_COLD = "went_cold"  # the requester wrote to the target directly
    MEETING_HELD = "meeting_held"
    OPPORTUNITY = "opportunity"
    CLOSED_WON = "closed_won"
    CLOSED_LOST = "closed_lost"
    NO_RESPONSE = "no_response"
    NOT_A_FIT = "not_a_fit"


# The stage each action reaches; an action not here pushes nothing.
STAGE_OF_ACTION: dict[str, CrmStage] = {
    Action.TARGET_AGREED: CrmStage.INTRO_MADE,
    Action.REPORT_MEETING_HELD: CrmStage.MEETING_HELD,
    Action.REPORT_OPPORTUNITY: CrmStage.OPPORTUNITY,
    Action.REPORT_CLOSED_WON: CrmStage.CLOSED_WON,
    Action.REPORT_CLOSED_LOST: CrmStage.CLOSED_LOST,
    Action.REPORT_NO_RESPONSE: CrmStage.NO_RESPONSE,
    Action.REPORT_NOT_A_FIT: CrmStage.NOT_A_FIT,
    "go_cold": CrmStage.WENT_COLD,  # the event a cold approach is recorded with
}

# How a stage reads on the CRM record (a note's or a task's subject).
STAGE_LABEL: dict[CrmStage, str] = {
    CrmStage.INTRO_MADE: "Intro made",
    CrmStage.WENT_COLD: "Reached out directly",
    CrmStage.MEETING_HELD: "Meeting held",
    CrmStage.OPPORTUNITY: "Opportunity",
    CrmStage.CLOSED_WON: "Closed won",
    CrmStage.CLOSED_LOST: "Closed lost",
    CrmStage.NO_RESPONSE: "No response",
    CrmStage.NOT_A_FIT: "Not a fit",
}


def stage_of(action: str) -> CrmStage | None:
    """The stage the CRM hears of when `action` is taken (or an event of that name is
    recorded), if any."""
    return STAGE_OF_ACTION.get(action)


def split_name(name: str) -> tuple[str, str]:
    """First and last name of a full name as typed: the last word is the last name (CRMs
    require one); a single word is a last name alone."""
    words = name.split()
    if not words:
        return "", ""
    if len(words) == 1:
        return "", words[0]
    return " ".join(words[:-1]), words[-1]


def record_key(team_id: str, request_id: int) -> str:
    """introbot's id of a request in a CRM (an external id, unique across workspaces)."""
    return f"{team_id}-{request_id}"


@dataclass(frozen=True)
class CrmRecord:
    """One push: the target as a CRM record, and the stage it reached."""

    key: str  # record_key: the upsert's external id
    request_id: int
    stage: CrmStage
    at: datetime  # when the stage was reached
    cold: bool  # a cold approach: no one introduced
    first_name: str
    last_name: str
    company: str
    title: str  # the role asked for, when the ask named one
    email: str | None  # the target's, when the connector gave it
    requester_name: str
    connector_name: str  # empty for a cold approach

    @property
    def lead_source(self) -> str:
        return LEAD_SOURCE_COLD if self.cold else LEAD_SOURCE_WARM

    @property
    def referred_by(self) -> str:
        """Who made the intro: the referrer on the record (empty for a cold approach)."""
        return "" if self.cold else self.connector_name

    @property
    def subject(self) -> str:
        """A note's or task's subject: "Warm intro: Meeting held"."""
        kind = "Cold outreach" if self.cold else "Warm intro"
        return f"{kind}: {STAGE_LABEL[self.stage]}"

    @property
    def body(self) -> str:
        """A note's or task's text: who asked, who introduced, the stage and its date."""
        day = self.at.date().isoformat()
        if self.cold:
            who = f"{self.requester_name} reached out directly, without an intro."
        else:
            who = f"{self.requester_name} asked; {self.connector_name} made the intro."
        return f"{who} {STAGE_LABEL[self.stage]} on {day}. (introbot request {self.key})"


def crm_record(
    *,
    team_id: str,
    request_id: int,
    stage: CrmStage,
    at: datetime,
    target_name: str,
    target_company: str,
    target_role: str,
    target_email: str | None,
    requester_name: str,
    connector_name: str,
    cold: bool,
) -> CrmRecord:
    first, last = split_name(target_name)
    return CrmRecord(
        key=record_key(team_id, request_id),
        request_id=request_id,
        stage=stage,
        at=at,
        cold=cold,
        first_name=first,
        last_name=last,
        company=target_company.strip(),
        title=target_role.strip(),
        email=(target_email or "").strip().lower() or None,
        requester_name=requester_name.strip(),
        connector_name="" if cold else connector_name.strip(),
    )
