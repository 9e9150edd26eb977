"""The ids Slack sends back: what a template renders a button, a menu or a form with, and
what a listener is registered for. One name for both sides."""

from __future__ import annotations

import re
from enum import StrEnum


class ActionId(StrEnum):
    """A button's or a menu's action_id."""

    # The connector's card (and its reminders, and the Home tab).
    ACCEPT = "intro_accept"
    # An ask for a way in: accepting opens a modal to pick the person.
    ACCEPT_WAY_IN = "intro_accept_way_in"
    DECLINE = "intro_decline"
    REDIRECT = "intro_redirect"
    MENTION_NAME = "intro_mention_name"
    QUALIFY = "intro_qualify"
    ASK_NAMED = "intro_ask_named"
    ASK_ANONYMOUS = "intro_ask_anonymous"
    TARGET_AGREED = "intro_target_agreed"
    TARGET_DECLINED = "intro_target_declined"
    TARGET_NOT_NOW = "intro_target_not_now"
    STILL_WAITING = "intro_still_waiting"
    TIE_YES = "intro_tie_yes"
    TIE_NO = "intro_tie_no"
    EDIT_INTRO_LINE = "intro_edit_line"
    # The account owner's card.
    OWNER_APPROVE = "intro_owner_approve"
    OWNER_EDIT = "intro_owner_edit"
    OWNER_DECLINE = "intro_owner_decline"
    # The requester's card, notices and reminders.
    CANCEL = "intro_cancel"
    FOLLOWED_UP = "intro_followed_up"
    OUTCOME_SELECT = "intro_outcome_select"
    ASK_SUGGESTED = "intro_ask_suggested"
    ASK_PERSON = "intro_ask_person"  # an intro to the better person the connector named
    ASK_SECONDARY = "intro_ask_secondary"  # "Pick someone else": no teammate named
    SECONDARY_BUMP = "intro_secondary_bump"
    SECONDARY_LEAVE = "intro_secondary_leave"
    GO_COLD = "intro_go_cold"
    # A connector outside the team: the request form's switch to its own form, and the
    # requester's reports of the connector's answers (the card and its reminders).
    OUTSIDE_FORM = "intro_outside_form"
    OUTSIDE_AGREED = "intro_outside_agreed"
    OUTSIDE_DECLINED = "intro_outside_declined"
    OUTSIDE_TARGET_AGREED = "intro_outside_target_agreed"
    OUTSIDE_TARGET_DECLINED = "intro_outside_target_declined"
    THANK_CONNECTOR = "intro_thank_connector"
    # A connector's offer.
    OFFER_TAKE = "intro_offer_take"
    OFFER_PASS = "intro_offer_pass"
    # The offer-help digest: an account teammates are working where the connector knows people.
    DIGEST_OFFER = "intro_digest_offer"
    DIGEST_NOT_FOR_ME = "intro_digest_not_for_me"
    # The request form.
    GO_COLD_FORM = "intro_go_cold_form"
    # The Home tab.
    NEW_REQUEST = "intro_new"
    OFFER_OPEN = "intro_offer_open"
    CONTACT_ADD = "intro_contact_add"
    CONTACT_EDIT = "intro_contact_edit"
    CONTACT_DELETE = "intro_contact_delete"
    CONTACT_SEARCH = "intro_contact_search"
    CONTACTS_NEXT = "intro_contacts_next"
    CONTACTS_PREVIOUS = "intro_contacts_previous"
    CONTACTS_DELETE_ALL = "intro_contacts_delete_all"
    SHARE_DETAILS = "intro_share_details"
    PACING_OPEN = "intro_pacing_open"
    ACCOUNTS_ADD = "intro_accounts_add"  # the Home tab's accounts: opens the modal to paste
    # The Home tab's CRM section (admins only).
    CRM_CONNECT_HUBSPOT = "intro_crm_connect_hubspot"
    CRM_CONNECT_SALESFORCE = "intro_crm_connect_salesforce"
    CRM_DISCONNECT = "intro_crm_disconnect"
    # The link to HubSpot's consent page (installed over OAuth): Slack still tells the app.
    CRM_CONSENT = "intro_crm_consent"
    # Every form field's element: its block id names the field.
    FIELD = "value"


class ActionFamily(StrEnum):
    """Buttons rendered more than once in a message, told apart by a suffix: a stage
    ("intro_outcome_meeting_held") or a place in a list ("intro_pick_connector_2")."""

    OUTCOME = "intro_outcome"  # + the stage
    PICK_CONNECTOR = "intro_pick_connector"  # + the suggestion's place
    ASK_SECONDARY = "intro_ask_secondary"  # + the path's place (a dead end's list)
    SECONDARY_ASK = "intro_secondary_ask"  # + the teammate's place (the second-voice offer)
    CRM_RETRY = "intro_crm_retry"  # + the failed push's place (the Home tab's CRM section)

    def of(self, suffix: object) -> str:
        return f"{self.value}_{suffix}"

    @property
    def pattern(self) -> re.Pattern[str]:
        suffix = r"[a-z_]+" if self is ActionFamily.OUTCOME else r"\d+"
        return re.compile(rf"^{re.escape(self.value)}_{suffix}$")


class CallbackId(StrEnum):
    """A modal's callback_id (its submission's), or a shortcut's."""

    REQUEST_MODAL = "intro_request_modal"
    DECLINE_MODAL = "intro_decline_modal"
    OWNER_DECLINE_MODAL = "intro_owner_decline_modal"
    REDIRECT_MODAL = "intro_redirect_modal"
    NOT_NOW_MODAL = "intro_not_now_modal"
    OWNER_EDIT_MODAL = "intro_owner_edit_modal"
    INTRO_LINE_MODAL = "intro_line_modal"
    MENTION_NAME_MODAL = "intro_mention_name_modal"
    INTRO_MADE_MODAL = "intro_made_modal"  # "intro made", with the target's email for the CRM
    WAY_IN_MODAL = "intro_way_in_modal"  # the connector picks whom to ask at the company
    CONTACT_MODAL = "intro_contact_modal"
    PACING_MODAL = "intro_pacing_modal"
    ACCOUNTS_MODAL = "intro_accounts_modal"
    CRM_MODAL = "intro_crm_modal"  # an admin connects HubSpot or Salesforce
    OFFER_MODAL = "intro_offer_modal"
    COLD_MODAL = "intro_cold_modal"  # nothing to submit: the note to paste
    OUTSIDE_MODAL = "intro_outside_modal"  # the request form for a connector outside the team
    THANKS_MODAL = "intro_thanks_modal"
    MESSAGE_SHORTCUT = "request_intro_from_message"


class StepId(StrEnum):
    """A custom Workflow Builder step's callback_id, as the manifest's `functions` declares
    it (templates/steps.json)."""

    REQUEST_INTRO = "request_warm_intro"
    RECORD_OUTCOME = "record_intro_outcome"


class BlockId(StrEnum):
    """Block ids a listener matches or reads back from a view."""

    TARGET_NAME = "target_name"
    CONNECTOR = "connector"  # "connector:<user>" once a connector is picked
    SOURCE_HINT = "source_hint"

    def picked(self, user_id: str) -> str:
        """A block id of its own for a chosen value: Slack keeps what was typed in an input
        across views.update unless its block id changes."""
        return f"{self.value}:{user_id}" if user_id else self.value
