"""Typed SQLAlchemy models. Every row carries the Slack team_id it belongs to."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, TypeVar

from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    func,
    text,
    true,
)
from sqlalchemy import false as sa_false
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, configure_mappers, mapped_column
from sqlalchemy.orm.instrumentation import manager_of_class

# Stable constraint names, so Alembic migrations name things the same on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def personal(whose: str, *, name: bool = False) -> dict[str, Any]:
    """A column's `info`: it holds personal data of the request's `whose` side ("requester",
    "connector"), erased by `/intro forget me` (bot.intro.privacy), or of the "target", a third
    party. `name`: erased to a placeholder name rather than emptied. PRIVACY.md lists them."""
    return {"personal": whose, "erased_as_name": name}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


_Model = TypeVar("_Model", bound=Base)


def built(model: type[_Model], /, **columns: Any) -> _Model:
    """`model(**columns)` without SQLAlchemy's event for each attribute it sets: a tenth of
    the CPU (some 2 us against 25 for an outbound message), for the objects the hot path makes
    by the dozen from a statement's rows or a plan. Only columns may be named: unlike the
    constructor, it does not check. Added to a session, the object is inserted alike."""
    manager = manager_of_class(model)
    if not manager.mapper.configured:
        configure_mappers()  # as the constructor does, first
    made = manager.new_instance()
    made.__dict__.update(columns)
    return made


class IntroRequest(Base):
    __tablename__ = "intro_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    requester_id: Mapped[str] = mapped_column(String(32))
    requester_name: Mapped[str] = mapped_column(
        String(200), default="", info=personal("requester", name=True)
    )
    # Empty for a cold approach made without one (the requester writes to the target directly).
    connector_id: Mapped[str] = mapped_column(String(32))
    target_name: Mapped[str] = mapped_column(String(150), info=personal("target"))
    target_company: Mapped[str] = mapped_column(String(150), default="", info=personal("target"))
    reason: Mapped[str] = mapped_column(Text, info=personal("requester"))
    blurb: Mapped[str] = mapped_column(Text, info=personal("requester"))
    closeness: Mapped[str] = mapped_column(String(32), default="")
    source_channel_id: Mapped[str | None] = mapped_column(String(32))
    source_message_ts: Mapped[str | None] = mapped_column(String(32))
    source_permalink: Mapped[str | None] = mapped_column(Text, info=personal("requester"))
    # Before revision 0012 only: a stalled ask's replacement. previous_request_id has its values.
    redirected_from_id: Mapped[int | None] = mapped_column(ForeignKey("intro_requests.id"))
    status: Mapped[str] = mapped_column(String(32))
    decline_reason: Mapped[str | None] = mapped_column(Text, info=personal("connector"))
    suggested_user_id: Mapped[str | None] = mapped_column(String(32))
    suggestion_note: Mapped[str | None] = mapped_column(Text, info=personal("connector"))
    # A better person to talk to than the target, named by the connector (not a teammate):
    # the requester may ask the same connector for an intro to them instead.
    suggested_name: Mapped[str | None] = mapped_column(String(150), info=personal("connector"))
    suggested_title: Mapped[str | None] = mapped_column(String(200), info=personal("connector"))
    suggested_company: Mapped[str | None] = mapped_column(String(150), info=personal("connector"))
    intro_made_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    followed_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(32))
    outcome_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the latest stage's
    # When each outcome stage was reported (the CRM export has a column for each).
    meeting_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    opportunity_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    won_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lost_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The target's folded surname (bot.intro.matching.person_surname_key): the open-asks check is an
    # index lookup on it, with accents and case already out of the way.
    target_surname_key: Mapped[str] = mapped_column(
        String(150), default="", server_default="", info=personal("target")
    )
    # The target's company as matched (bot.intro.matching.company_key): who introduced someone
    # there before is an index lookup, whatever the spelling; a team's merges sit on top of it.
    target_company_key: Mapped[str] = mapped_column(
        String(150), default="", server_default="", info=personal("target")
    )
    account_owner_id: Mapped[str | None] = mapped_column(String(32))
    # The id of the form that was submitted: the same submission twice (a double click, two
    # replicas) stores one request.
    submission_key: Mapped[str | None] = mapped_column(String(64))
    # The requester allows the connector to name them before the target agrees; the connector
    # chose the named opt-in ask (only possible when allowed).
    share_name: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    named_ask: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # From the requester's Slack profile when they asked: the intro email's signature.
    requester_title: Mapped[str] = mapped_column(
        String(200), default="", server_default="", info=personal("requester")
    )
    requester_email: Mapped[str] = mapped_column(
        String(254), default="", server_default="", info=personal("requester")
    )
    # The connector's name, for the message that says they suggested getting in touch.
    connector_name: Mapped[str] = mapped_column(
        String(200), default="", server_default="", info=personal("connector", name=True)
    )
    # The connector's own answer to "would they take your call?" (labels.json qualify).
    connector_closeness: Mapped[str | None] = mapped_column(String(32), info=personal("connector"))
    # The request this one follows after it ran into a dead end (a decline, a stall, no
    # response): one person, two paths. The funnel counts the person once.
    previous_request_id: Mapped[int | None] = mapped_column(Integer, index=True)
    # A second voice (it follows a request whose target agreed to the intro, then went quiet):
    # the requester lets this connector name the one who made the first intro.
    name_first_connector: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    # Set on a cold approach: the requester writes to the target without an intro.
    went_cold_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The target said not now: the day the connector chose to ask them again.
    ask_again_on: Mapped[date | None] = mapped_column(Date)
    # A connector outside the team (a customer, an investor, an advisor): no Slack user, so
    # connector_id is empty; the requester forwards the ask and reports each step. Their name
    # is in connector_name; their email and the two ties, as the requester gave them, here.
    connector_outside: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    connector_email: Mapped[str] = mapped_column(
        String(254), default="", server_default="", info=personal("requester")
    )
    # How the outside connector knows the target, and how the requester knows the connector.
    connector_knows_target: Mapped[str] = mapped_column(
        Text, default="", server_default="", info=personal("requester")
    )
    requester_knows_connector: Mapped[str] = mapped_column(
        Text, default="", server_default="", info=personal("requester")
    )
    # The size of the ask (labels.json ask_size): what the opt-in ask says the target agrees to.
    ask_size: Mapped[str] = mapped_column(String(16), default="call_15", server_default="call_15")
    # The requester's own words for themselves in the anonymous opt-in ask ("someone on our
    # partnerships team"); empty: "a colleague of mine".
    anonymous_as: Mapped[str] = mapped_column(
        String(200), default="", server_default="", info=personal("requester")
    )
    # The connector's line in the intro email on why the two should meet; None: the default
    # made from the reason until the connector edits it.
    intro_line: Mapped[str | None] = mapped_column(Text, info=personal("connector"))
    # "Mention my name": how the connector knows the target, in words the requester's message
    # says after their name ("from DHL, where you worked together").
    how_known: Mapped[str | None] = mapped_column(String(150), info=personal("connector"))
    # An ask for a way in, not a person: the requester named a company (and, optionally, the
    # role they are after); the connector picks the person when they accept, and from then
    # target_name holds them.
    way_in: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    target_role: Mapped[str] = mapped_column(
        String(200), default="", server_default="", info=personal("requester")
    )
    # The target's email, when the connector gave it with "intro made": kept only until the
    # CRM push has used it, then only as its keyed hash (bot.intro.privacy.email_fingerprint).
    target_email: Mapped[str | None] = mapped_column(String(254), info=personal("target"))
    target_email_hash: Mapped[str | None] = mapped_column(String(64), info=personal("target"))
    # The CRM record the pushes of this request wrote (a HubSpot contact, a Salesforce Lead or
    # Contact): a retry, and each later stage, updates it instead of creating another.
    crm_object_type: Mapped[str | None] = mapped_column(String(32))
    crm_object_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("uq_intro_requests_submission", "team_id", "submission_key", unique=True),
        Index("ix_intro_requests_requester", "team_id", "requester_id", "created_at"),
        Index("ix_intro_requests_connector", "team_id", "connector_id", "status"),
        # Open asks in a workspace, without scanning its history.
        Index("ix_intro_requests_team_status", "team_id", "status"),
        # Open asks for one person (duplicate-ask checks): neither every open ask nor every
        # past ask for a common surname is read.
        Index("ix_intro_requests_team_target_surname", "team_id", "target_surname_key", "status"),
        # Who introduced this person or company before (the stalled ask's second path).
        Index("ix_intro_requests_team_target", "team_id", func.lower(target_name)),
        Index("ix_intro_requests_team_company_key", "team_id", "target_company_key"),
        # Open asks to one outside connector (the duplicate-ask check reads them by email).
        Index("ix_intro_requests_team_connector_email", "team_id", "connector_email", "status"),
        # The few requests still holding a target's email in plain text (until their CRM push):
        # the sweep that hashes the leftovers reads this, not every request.
        Index(
            "ix_intro_requests_target_email_kept",
            "id",
            postgresql_where=text("target_email IS NOT NULL"),
            sqlite_where=text("target_email IS NOT NULL"),
        ),
    )


class RequestEvent(Base):
    """Every transition, in order: the history behind each status and later the funnel."""

    __tablename__ = "request_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    request_id: Mapped[int] = mapped_column(ForeignKey("intro_requests.id"), index=True)
    actor_id: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class IntroOffer(Base):
    """A connector's offer to introduce a teammate (the rep) to someone: the rep takes it (and
    makes the request, already accepted by the connector) or passes."""

    __tablename__ = "intro_offers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    connector_id: Mapped[str] = mapped_column(String(32))
    rep_id: Mapped[str] = mapped_column(String(32))
    target_name: Mapped[str] = mapped_column(String(150), info=personal("target"))
    company: Mapped[str] = mapped_column(String(150), default="", info=personal("target"))
    reason: Mapped[str] = mapped_column(Text, default="", info=personal("connector"))
    status: Mapped[str] = mapped_column(String(16))  # bot.intro.states.OfferStatus
    # The request the rep made from it, once taken.
    request_id: Mapped[int | None] = mapped_column(ForeignKey("intro_requests.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_intro_offers_team_status", "team_id", "status"),)


class MessageKind(StrEnum):
    OWNER_CARD = "owner_card"  # the account owner's DM: approve, edit the note, or decline
    CONNECTOR_CARD = "connector_card"  # the connector's DM with the ask and its buttons
    REQUESTER_CARD = "requester_card"  # the requester's DM with the request's status
    CARD_REFRESH = "card_refresh"  # re-render one of the cards above from current state
    NOTICE = "notice"  # a one-off message telling someone what happened
    REMINDER = "reminder"  # a nudge or reminder, due later, sent in working hours
    # A connector's offer of an intro (no request yet: the row's data names the offer).
    OFFER_CARD = "offer_card"  # the rep's DM: who offers whom, why, Take it / No thanks
    OFFER_REFRESH = "offer_refresh"  # re-render the rep's offer card once taken or passed
    OFFER_NOTICE = "offer_notice"  # the connector hears the rep passed
    # Not Slack: a state change POSTed to the workspace's webhook (bot.delivery.webhooks).
    WEBHOOK = "webhook"
    # A connector's note of teammates' accounts where they know people (bot.intro.digests):
    # no request; the row's data names the accounts.
    DIGEST = "offer_help_digest"
    # Not Slack: an intro's stage pushed to the workspace's CRM (bot.delivery.crm): no
    # recipient; the row's data names the stage and the event that reached it.
    CRM_PUSH = "crm_push"


# The messages a refresh re-renders in place.
CARD_KINDS = (MessageKind.OWNER_CARD, MessageKind.CONNECTOR_CARD, MessageKind.REQUESTER_CARD)
OFFER_KINDS = (MessageKind.OFFER_CARD, MessageKind.OFFER_REFRESH, MessageKind.OFFER_NOTICE)


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"  # the request moved on before this was due
    EXPIRED = "expired"  # Slack could not take it for as long as it was worth sending


class OutboundMessage(Base):
    """A message the workflow promised, written with the state change that promised it."""

    __tablename__ = "outbound_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("intro_requests.id"))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    recipient_id: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    slack_channel_id: Mapped[str | None] = mapped_column(String(32))
    slack_ts: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("team_id", "dedupe_key", name="uq_outbound_messages_team_dedupe"),
        Index("ix_outbound_messages_due", "status", "due_at"),
        Index("ix_outbound_messages_request", "request_id", "kind"),
        # The sweep finds the workspaces with due messages (a skip scan over team_id) and
        # claims each one's share (bot.delivery.dispatcher).
        Index("ix_outbound_messages_team_due", "status", "team_id", "due_at"),
    )


class RateBudget(Base):
    """One Slack rate limit's budget (bot.delivery.pace): the theoretical arrival time of the
    next call, in seconds since the epoch, per workspace, method and scope ('' for the whole
    workspace, else a channel). Shared by every replica on PostgreSQL."""

    __tablename__ = "rate_budgets"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    method: Mapped[str] = mapped_column(String(64), primary_key=True)
    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    tat: Mapped[float] = mapped_column(Float)


class ProcessedEvent(Base):
    """Events API deliveries already handled: Slack retries them, introbot acts once."""

    __tablename__ = "processed_events"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class Contact(Base):
    """Someone a teammate knows. Private to its owner: others only see suggestions from it."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    owner_id: Mapped[str] = mapped_column(String(32))
    # "email:<keyed hash>" when an email was given, else name|company: re-imports update in place.
    identity_key: Mapped[str] = mapped_column(String(400))
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200))
    surname_key: Mapped[str] = mapped_column(String(100))
    company: Mapped[str] = mapped_column(String(200), default="")
    company_key: Mapped[str] = mapped_column(String(200), default="")
    # The short form the email's domain gives the company, when the two agree ("acme" for
    # jane@acme.com at Acme Logistics; bot.intro.matching.domain_company_key), else "".
    company_domain_key: Mapped[str] = mapped_column(String(200), default="", server_default="")
    title: Mapped[str] = mapped_column(String(200), default="")
    # A third party's email is kept only as an HMAC (bot.intro.privacy): enough to recognise the
    # same person on a re-import, useless to anyone reading the database without the key.
    email_hash: Mapped[str] = mapped_column(String(64), default="", server_default="")
    closeness: Mapped[str] = mapped_column(String(32), default="met_once")
    since: Mapped[date | None] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(16), default="manual")
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The owner said they are no longer in touch (or that the person would not take their
    # call): suggestions rank the tie below the others and no longer say they know them.
    lapsed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint(
            "team_id", "owner_id", "identity_key", name="uq_contacts_team_owner_identity"
        ),
        Index("ix_contacts_team_surname", "team_id", "surname_key"),
        Index("ix_contacts_team_company", "team_id", "company_key"),
        Index("ix_contacts_team_company_domain", "team_id", "company_domain_key"),
    )


class ConnectorPrefs(Base):
    """How often a teammate is willing to be asked, set by them in App Home."""

    __tablename__ = "connector_prefs"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    max_open: Mapped[int | None] = mapped_column(Integer)
    max_per_30_days: Mapped[int | None] = mapped_column(Integer)
    snoozed_until: Mapped[date | None] = mapped_column(Date)
    blocked_companies: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Whether teammates' suggestions show how well and since when this person knows the target.
    share_tie_details: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=sa_false()
    )
    # Whether they get the note of teammates' accounts where they know people.
    offer_help: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class DepartedUser(Base):
    """A teammate Slack reports deactivated: out of suggestions at once, contacts deleted once
    INTROBOT_UNINSTALL_RETENTION has passed (unless they come back first)."""

    __tablename__ = "departed_users"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    departed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Profile(Base):
    """What Slack last said of a teammate (users.list, users.info, user_change), shared by every
    replica: a form's submission reads it instead of asking Slack before its 3-second ack."""

    __tablename__ = "profiles"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    title: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    tz: Mapped[str] = mapped_column(String(64), default="")
    is_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ProfileListing(Base):
    """When a workspace's members were last listed (users.list) into profiles: one replica
    claims the listing, the others see it taken."""

    __tablename__ = "profile_listings"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    listed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WorkspaceSettings(Base):
    __tablename__ = "workspace_settings"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    enforce_pacing: Mapped[bool] = mapped_column(Boolean, default=False)
    # The limits for a connector who has not set their own: None is introbot's default
    # (bot.intro.directory.DEFAULT_PACING), 0 is no limit.
    default_max_open: Mapped[int | None] = mapped_column(Integer)
    default_max_per_30_days: Mapped[int | None] = mapped_column(Integer)


class Webhook(Base):
    """Where a workspace's request changes are POSTed, signed with its secret
    (bot.delivery.webhooks). Set by an admin; deleted with the workspace's data on uninstall."""

    __tablename__ = "webhooks"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    # Sealed under INTROBOT_SECRET_KEY when it is set ("sealed:" and a Fernet token).
    secret: Mapped[str] = mapped_column(Text)
    set_by: Mapped[str] = mapped_column(String(32))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CrmConnection(Base):
    """A workspace's CRM (HubSpot or Salesforce), connected by an admin: its credentials only
    as ciphertext under INTROBOT_SECRET_KEY (bot.delivery.crm.credentials). Deleted by
    Disconnect and with the workspace's data on uninstall."""

    __tablename__ = "crm_connections"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    vendor: Mapped[str] = mapped_column(String(16))  # "hubspot" or "salesforce"
    credentials: Mapped[str] = mapped_column(Text)  # Fernet token of the credentials' JSON
    # What the admin reads of it: the HubSpot portal id, the Salesforce instance's host.
    account: Mapped[str] = mapped_column(String(200), default="", server_default="")
    connected_by: Mapped[str] = mapped_column(String(32))
    connected_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The CRM refused the credentials (a 401): pushes wait, none lost, until an admin
    # connects again.
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paused_reason: Mapped[str | None] = mapped_column(Text)


class AccountOwner(Base):
    """Who owns the relationship with a company: intros there go through them first."""

    __tablename__ = "account_owners"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    company_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    company: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[str] = mapped_column(String(32))


class CompanyAlias(Base):
    """Two spellings an admin made one company (`/intro company merge`): the alias's key stands
    for the canonical key wherever companies are matched (bot.intro.companies). One hop: a
    canonical key is never itself an alias."""

    __tablename__ = "company_aliases"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    alias_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    canonical_key: Mapped[str] = mapped_column(String(200))
    # Both spellings as the admin typed them, to list the merges back.
    alias: Mapped[str] = mapped_column(String(200))
    canonical: Mapped[str] = mapped_column(String(200))
    merged_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_company_aliases_team_canonical", "team_id", "canonical_key"),)


class TargetAccount(Base):
    """An account on a rep's list (or on the workspace's, kept by admins): the companies
    coverage, the weekly offer-help digest and a manager's view are about."""

    __tablename__ = "target_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    # The rep whose list it is; "" for the workspace's own list.
    list_owner_id: Mapped[str] = mapped_column(String(32), default="")
    company: Mapped[str] = mapped_column(String(200))
    company_key: Mapped[str] = mapped_column(String(200))
    domain: Mapped[str] = mapped_column(String(200), default="")
    tier: Mapped[str] = mapped_column(String(32), default="")
    added_by: Mapped[str] = mapped_column(String(32))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("team_id", "list_owner_id", "company_key"),
        Index("ix_target_accounts_team_company", "team_id", "company_key"),
    )


class TeamMember(Base):
    """A manager's team, as an admin named it (`/intro team`): a teammate, or a Slack user group
    whose members are read from Slack whenever the team is shown (groups change)."""

    __tablename__ = "team_members"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    manager_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # A user id (U…/W…), or a user group's id (S…) when `is_group`.
    member_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    is_group: Mapped[bool] = mapped_column(Boolean, default=False)
    # A group's handle as the admin typed it ("sales-east"), to show; "" for a person.
    handle: Mapped[str] = mapped_column(String(100), default="")
    added_by: Mapped[str] = mapped_column(String(32))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TeamChart(Base):
    """The chart image last uploaded to Slack for a manager's team, and a hash of what it
    shows: an unchanged chart is shown again from the same file, not uploaded again."""

    __tablename__ = "team_charts"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    manager_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    file_id: Mapped[str] = mapped_column(String(32))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DigestAccount(Base):
    """What a connector was last told of an account teammates are working where they know
    people (the offer-help digest, bot.intro.digests), and whether they said it is not for
    them. Their own: it goes with their settings."""

    __tablename__ = "digest_accounts"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    connector_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    company_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    # The account as last told: how well they know someone there and whose lists it is on
    # (bot.intro.offer_help.DigestItem.told); "" when never told.
    told: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The digest that told it (an outbound_messages id): the latest is the connector's last.
    digest_id: Mapped[int | None] = mapped_column(Integer)
    # "Not for me": no digest brings it up before then.
    not_for_me_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WorkspaceStatus(StrEnum):
    ACTIVE = "active"
    # The app's token stopped working (invalid_auth, token_revoked, ...): delivery waits.
    PAUSED = "paused"
    # app_uninstalled or tokens_revoked: delivery waits; the data goes after the retention.
    UNINSTALLED = "uninstalled"


class Workspace(Base):
    """A workspace's delivery state, shared by every replica. No row means active."""

    __tablename__ = "workspaces"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # Set for a workspace of an Enterprise Grid org, so an org-wide install is found by it.
    enterprise_id: Mapped[str | None] = mapped_column(String(32))
    is_enterprise_install: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default=WorkspaceStatus.ACTIVE)
    reason: Mapped[str | None] = mapped_column(String(64))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    uninstalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_workspaces_status", "status"),)


# slack_sdk's installation and OAuth state stores keep their rows in these tables. They are
# declared here with slack_sdk's own builders, so migrations create exactly what the stores
# read and write, and the schema check compares them like any other table.
SLACK_INSTALLATIONS = SQLAlchemyInstallationStore.build_installations_table(
    Base.metadata, SQLAlchemyInstallationStore.default_installations_table_name
)
SLACK_BOTS = SQLAlchemyInstallationStore.build_bots_table(
    Base.metadata, SQLAlchemyInstallationStore.default_bots_table_name
)
SLACK_OAUTH_STATES = SQLAlchemyOAuthStateStore.build_oauth_states_table(
    Base.metadata, SQLAlchemyOAuthStateStore.default_table_name
)
