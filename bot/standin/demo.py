"""`introbot demo`: the whole intro flow on this machine, with no Slack workspace.

A local stand-in for Slack's Web API and introbot's real HTTP endpoint run on loopback. The
demo plays Slack's part: it sends signed requests for each click, then prints what each person
would see in Slack.
"""

from __future__ import annotations

import html
import re
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.intro.clock import ManualClock
from bot.intro.contacts import ContactInput
from bot.intro.people import Teammate
from bot.intro.states import Action
from bot.intro.validation import RequestDraft
from bot.standin import payloads
from bot.standin.console import BOLD_OFF, BOLD_ON, mrkdwn_to_text, render_blocks, render_view
from bot.standin.hubspot import FakeHubSpot
from bot.standin.stack import LocalStack

RIYA = "U0REQUESTER"
CARLOS = "U0CONNECTOR"
OLIVIA = "U0OTHER"
SAM = "U0SECOND"
ALEX = "U0ADMIN"
TEAM = payloads.TEAM_ID

CARLOS_CONNECTIONS = """Notes:
"When exporting your connection data, you may notice that some of the email addresses are missing."

First Name,Last Name,URL,Email Address,Company,Position,Connected On
Jane,Doe,https://linkedin.com/in/jd,jd@acme.example,Acme Logistics,"VP, Operations",04 Mar 2021
Seán,O’Brien,https://www.linkedin.com/in/seanob,,"Globex, Inc.",CTO,17 Nov 2019
Priya,Raman,https://www.linkedin.com/in/priyaraman,,Initech,Head of Sales,12 Jan 2023
"""

SAM_BLURB = (
    "Hi Seán, I'm Sam Okafor from Northwind. We audit freight invoices for teams like "
    "Globex's and usually find 3-5% in overcharges within a month. Would you be open to a "
    "short call to see if that's worth a look?"
)

PRIYA_BLURB = (
    "Hi Priya, I'm Sam Okafor from Northwind. We help sales teams like Initech's move to "
    "usage-based pricing without rebuilding their billing. Would you be open to a 15-minute "
    "call this month?"
)

BLURB = (
    "Hi Jane, I'm Riya Patel, I lead partnerships at Northwind. We help logistics teams like "
    "Acme's cut customs delays by a third, and I think your EU expansion is where it pays off "
    "most. Would you be open to a 15-minute call next week?"
)


def _note_text(body: str) -> str:
    """A HubSpot note's HTML as its reader sees it."""
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", body).split()))


class Demo:
    def __init__(
        self, stack: LocalStack, clock: ManualClock, hubspot: FakeHubSpot | None = None
    ) -> None:
        self.hubspot = hubspot
        self.stack = stack
        self.clock = clock
        self.names = {person.user_id: person.name for person in stack.people}
        self.step = 0

    def name_of(self, user_id: str) -> str:
        return self.names.get(user_id, user_id)

    def say(self, headline: str) -> None:
        self.step += 1
        print(f"\n{BOLD_ON}{self.step}. {headline}{BOLD_OFF}")

    def show(self, who: str, where: str, lines: list[str]) -> None:
        print(f"   ┄┄ what {self.name_of(who)} sees{' ' + where if where else ''} ┄┄")
        for line in lines:
            print("   " + line)

    def show_dm(self, who: str, message: dict[str, Any], where: str = "in their DM") -> None:
        self.show(who, where, render_blocks(message["blocks"], self.name_of))

    async def press(self, who: str, message: dict[str, Any], action_id: str) -> None:
        value = next(
            element["value"]
            for block in message["blocks"]
            for element in [*block.get("elements", []), block.get("accessory") or {}]
            if element.get("action_id") == action_id
        )
        assert self.stack.slack is not None
        status, _ = await self.stack.slack.interaction(
            payloads.block_action(
                who,
                action_id,
                value,
                self.stack.fake.issue_trigger_id(who),
                channel_id=message["channel"],
                message_ts=message["ts"],
            )
        )
        print(f"   (Slack → introbot: {self.name_of(who)} pressed a button; HTTP {status})")

    async def later(self, delta: timedelta) -> None:
        """Move the demo's clock on and let the bot's sweep deliver what fell due."""
        assert self.stack.services is not None
        await self.stack.services.work.drain()
        self.clock.advance(delta)
        await self.stack.services.dispatcher.sweep()

    def text(self, mrkdwn: str) -> str:
        return mrkdwn_to_text(mrkdwn, self.name_of)

    def card(self) -> dict[str, Any]:
        """Carlos's DM about Riya's request (his first DM is the import report)."""
        return next(m for m in self.dms(CARLOS) if "asks you for an intro" in m["text"])

    def dms(self, who: str) -> list[dict[str, Any]]:
        return self.stack.fake.messages_for(who)

    async def run(self) -> None:
        fake, stack = self.stack.fake, self.stack
        assert stack.slack is not None
        print("introbot demo: a warm intro, start to finish, with no Slack workspace.")
        print(f"   Slack Web API stand-in: {fake.base_url}")
        print(f"   introbot's endpoint:    {stack.endpoint} (requests signed like Slack's)")

        # Riya's Slack profile: her title and email sign the intro email.
        fake.add_user(
            RIYA,
            name="riya",
            real_name=self.name_of(RIYA),
            title="Head of Partnerships, Northwind",
            email="riya@northwind.example",
        )
        self.say("Carlos sends his LinkedIn Connections.csv to introbot in a DM")
        shared = fake.add_file(CARLOS, "Connections.csv", CARLOS_CONNECTIONS.encode())
        await stack.slack.event(payloads.file_shared(CARLOS, shared["id"], fake.dm_channel(CARLOS)))
        await stack.until(
            lambda: any("Imported" in m["text"] for m in self.dms(CARLOS)), "the import report"
        )
        self.show_dm(CARLOS, self.dms(CARLOS)[-1])
        imported = len(self.dms(CARLOS))

        self.say("Riya types `/intro Jane Doe` in #deals; introbot suggests who knows her")
        status, _ = await stack.slack.command(
            payloads.slash_command(RIYA, "Jane Doe", fake.issue_trigger_id(RIYA))
        )
        await stack.until(lambda: fake.count("views.update") == 1, "the suggestions")
        view = fake.calls_to("views.update")[0].args["view"]
        print(f"   (introbot acked with HTTP {status}, opened a form, then added suggestions)")
        self.show(RIYA, "", render_view(view, self.name_of))

        self.say("Riya picks Carlos, writes a forwardable note and sends it (unnamed at first)")
        values: dict[str, str] = {
            "connector": CARLOS,
            "target_name": "Jane Doe",
            "target_company": "Acme Logistics",
            "reason": "Your EU warehouses open this year, and we cut customs delays by a third "
            "for shippers like Acme.",
            "ask_size": "call_15",
            "blurb": BLURB,
            "closeness": "know_well",
            "anonymous_as": "someone on our partnerships team",
        }
        for field, value in values.items():
            print(f"   {field}: {self.name_of(value) if field == 'connector' else value}")
        await stack.slack.interaction(payloads.view_submission(RIYA, view, values))
        await stack.until(
            lambda: len(self.dms(CARLOS)) > imported and bool(self.dms(RIYA)), "the DMs"
        )
        self.show_dm(CARLOS, self.card())
        self.show_dm(RIYA, self.dms(RIYA)[0])

        self.say("Carlos confirms he's still in touch with Jane, then accepts: he gets the words")
        await self.press(CARLOS, self.card(), "intro_tie_yes")
        await stack.until(lambda: self.card()["updates"] >= 1, "the question answered")
        print("   (the question is gone from his message; his directory now says so)")
        first_card = self.card()
        await self.press(CARLOS, first_card, "intro_accept")
        await stack.until(lambda: len(self.dms(RIYA)) == 2, "Riya's notice")
        await stack.until(lambda: self.card()["updates"] >= 2, "Carlos's card update")
        self.show_dm(CARLOS, self.card(), "(his message, updated)")
        self.show_dm(RIYA, self.dms(RIYA)[-1])

        self.say("Carlos puts the intro line in his own words")
        opened = fake.count("views.open")
        await self.press(CARLOS, self.card(), "intro_edit_line")
        await stack.until(lambda: fake.count("views.open") > opened, "the intro line")
        view = fake.calls_to("views.open")[-1].args["view"]
        self.show(CARLOS, "", render_view(view, self.name_of))
        line = (
            "You two should meet: Riya's team cut customs delays by a third for shippers like "
            "Acme, just as your EU warehouses open."
        )
        print(f"   intro_line: {line}")
        await stack.slack.interaction(payloads.view_submission(CARLOS, view, {"intro_line": line}))
        await stack.until(lambda: self.card()["updates"] >= 3, "Carlos's card update")
        email = [b for b in self.card()["blocks"] if b.get("block_id") == "intro_email"]
        self.show(
            CARLOS, "(the intro email in his message, updated)", render_blocks(email, self.name_of)
        )

        self.say("Carlos double-clicks Accept: nothing changes, and he's told so")
        await self.press(CARLOS, first_card, "intro_accept")
        await stack.until(lambda: bool(fake.ephemerals), "the note")
        self.show(CARLOS, "(only visible to him)", [self.text(fake.ephemerals[-1]["text"])])

        self.say("Jane tells Carlos she'd welcome it; he reports it, with her email for the CRM")
        opened = fake.count("views.open")
        await self.press(CARLOS, self.card(), "intro_target_agreed")
        await stack.until(lambda: fake.count("views.open") > opened, "the intro-made form")
        view = fake.calls_to("views.open")[-1].args["view"]
        self.show(CARLOS, "", render_view(view, self.name_of))
        print("   target_email: jane.doe@acme.example")
        await stack.slack.interaction(
            payloads.view_submission(CARLOS, view, {"target_email": "jane.doe@acme.example"})
        )
        await stack.until(lambda: len(self.dms(RIYA)) == 3, "Riya's notice")
        await stack.until(lambda: self.card()["updates"] >= 4, "Carlos's card update")
        self.show_dm(CARLOS, self.card(), "(his message, updated)")
        self.show_dm(RIYA, self.dms(RIYA)[-1])
        await self.crm_record("The intro is on Jane's contact in the team's HubSpot", stages=1)

        self.say("Three working hours later, the same day: time to follow up")
        before = len(self.dms(RIYA))
        await self.later(timedelta(hours=2))
        held = len(self.dms(RIYA)) == before
        print(f"   (two hours after the intro: {'held' if held else 'sent'} a while yet)")
        await self.later(timedelta(hours=1))
        self.show_dm(RIYA, self.dms(RIYA)[-1])
        await self.press(RIYA, self.dms(RIYA)[-1], "intro_followed_up")
        await stack.until(lambda: "Followed up" in str(self.dms(RIYA)[0]["blocks"]), "card")
        await self.later(timedelta(hours=20))  # the next morning: the story's dates stay put

        self.say("A week on, introbot asks Riya what came of it; she had the meeting")
        await self.later(timedelta(days=7))
        self.show_dm(RIYA, self.dms(RIYA)[-1])
        offers = fake.count("chat.postEphemeral")
        await self.press(RIYA, self.dms(RIYA)[-1], "intro_outcome_meeting_held")
        await stack.until(lambda: "met *Jane Doe*" in self.dms(CARLOS)[-1]["text"], "news")
        self.say("The loop closes: Carlos hears how his intro went")
        self.show_dm(CARLOS, self.dms(CARLOS)[-1])

        self.say("Riya is offered a line of thanks in her own words, and sends it")
        await stack.until(lambda: fake.count("chat.postEphemeral") > offers, "the thanks offer")
        offer = fake.calls_to("chat.postEphemeral")[-1].args
        self.show(RIYA, "(only visible to her)", render_blocks(offer["blocks"], self.name_of))
        opened = fake.count("views.open")
        pressed = {"blocks": offer["blocks"], "channel": offer["channel"], "ts": ""}
        await self.press(RIYA, pressed, "intro_thank_connector")
        await stack.until(lambda: fake.count("views.open") > opened, "the thanks form")
        form = fake.calls_to("views.open")[-1].args["view"]
        self.show(RIYA, "", render_view(form, self.name_of))
        notes = len(self.dms(CARLOS))
        words = "Carlos, Jane and I had a great first call. Thank you for vouching for me!"
        await stack.slack.interaction(payloads.view_submission(RIYA, form, {"thanks": words}))
        await stack.until(lambda: len(self.dms(CARLOS)) > notes, "Carlos's note")
        self.show_dm(CARLOS, self.dms(CARLOS)[-1])

        self.say("A month on, introbot asks Riya again; the deal closed, and Carlos hears it")
        await self.later(timedelta(days=30))
        self.show_dm(RIYA, self.dms(RIYA)[-1])
        await self.press(RIYA, self.dms(RIYA)[-1], "intro_outcome_closed_won")
        await stack.until(lambda: "Closed-won" in self.dms(CARLOS)[-1]["text"], "thanks")
        self.show_dm(CARLOS, self.dms(CARLOS)[-1])
        await self.crm_record("HubSpot has each stage, one note apiece", stages=3)

        self.say("Riya opens introbot's App Home")
        await stack.slack.event(payloads.app_home_opened(RIYA))
        await stack.until(lambda: RIYA in fake.home_views, "the home tab")
        self.show(RIYA, "on the Home tab", render_view(fake.home_views[RIYA], self.name_of))

        self.say("Riya checks `/intro stats`: which connectors source meetings")
        stats = await self.private_reply(RIYA, "stats", "the stats")
        self.show(RIYA, "(only visible to her)", render_blocks(stats["blocks"], self.name_of))

        await self.second_voice()
        await self.routing_and_export()
        await self.offered_intro()
        await self.checking_with_the_target()
        await self.better_person()
        await self.outside_the_team()
        await self.a_targets_no()
        await self.accounts()
        await self.a_way_in()

        print(
            f"\nDone: {len(fake.calls)} Web API calls, "
            f"{len(fake.broadcast_mentions)} channel-wide pings. "
            "Install it for real: see README.md."
        )

    async def private_reply(self, who: str, text: str, what: str) -> dict[str, Any]:
        """`/intro <text>` typed by `who`: the answer only they see."""
        fake, stack = self.stack.fake, self.stack
        assert stack.slack is not None
        answered = len(fake.responses)
        command = payloads.slash_command(
            who, text, fake.issue_trigger_id(who), response_url=fake.response_url()
        )
        await stack.slack.command(command)
        await stack.until(lambda: len(fake.responses) > answered, what)
        body: dict[str, Any] = fake.responses[-1]["body"]
        return body

    async def intro_made(self, who: str, card: dict[str, Any], action_id: str) -> None:
        """Report the intro made: with the team's CRM, through its form, left without the
        target's email (it is optional)."""
        fake, stack = self.stack.fake, self.stack
        assert stack.slack is not None
        opened = fake.count("views.open")
        await self.press(who, card, action_id)
        await stack.until(lambda: fake.count("views.open") > opened, "the intro-made form")
        view = fake.calls_to("views.open")[-1].args["view"]
        await stack.slack.interaction(payloads.view_submission(who, view, {"target_email": ""}))

    async def crm_record(self, headline: str, *, stages: int) -> None:
        """What RevOps sees in HubSpot (a local stand-in): Jane's contact, who referred her,
        and a note for each stage pushed so far."""
        hub = self.hubspot
        if hub is None:
            return
        self.say(headline + " (a local stand-in for HubSpot)")

        def jane() -> Any:
            found = [c for c in hub.contacts.values() if c.properties.get("lastname") == "Doe"]
            return found[0] if found and len(hub.notes_of(found[0].id)) >= stages else None

        await self.stack.until(lambda: jane() is not None, "the push to HubSpot", timeout=20)
        contact = jane()
        fields = ("firstname", "lastname", "company", "email")
        shown = [f"{name}: {contact.properties.get(name, '')}" for name in fields]
        shown += [
            f"{name}: {contact.properties.get(name, '')}"
            for name in ("introbot_lead_source", "introbot_referred_by", "hs_lead_status")
        ]
        notes = sorted(hub.notes_of(contact.id), key=lambda n: n.properties["hs_timestamp"])
        shown += [f"note: {_note_text(n.properties['hs_note_body'])}" for n in notes]
        self.show("RevOps", "in HubSpot", shown)

    async def second_voice(self) -> None:
        """An intro the target never answers: a second voice, or the connector's nudge."""
        fake, stack = self.stack.fake, self.stack
        assert stack.slack is not None and stack.services is not None
        workflow, dispatcher = stack.services.workflow, stack.services.dispatcher
        await stack.slack.command(
            payloads.slash_command(
                OLIVIA,
                "know Priya Raman at Initech",
                fake.issue_trigger_id(OLIVIA),
                response_url=fake.response_url(),
            )
        )
        self.say("Carlos also introduced Riya to Priya Raman at Initech; Priya never answered")
        print("   (Olivia has Priya on her list too: `/intro know Priya Raman at Initech`)")
        draft = RequestDraft(
            requester=Teammate(RIYA, self.name_of(RIYA)),
            connector=Teammate(CARLOS, self.name_of(CARLOS)),
            target_name="Priya Raman",
            target_company="Initech",
            reason="You ship across borders every day, and we cut customs delays by a third.",
            blurb=BLURB.replace("Jane", "Priya").replace("Acme", "Initech"),
        )
        asked = await workflow.submit(TEAM, draft, [])
        await dispatcher.deliver(asked.message_ids)
        for action in (Action.ACCEPT, Action.TARGET_AGREED):
            done = await workflow.act(TEAM, asked.request.id, CARLOS, action)
            await dispatcher.deliver(done.message_ids)
        await self.later(timedelta(days=3))
        card = next(m for m in self.dms(RIYA) if "request to Priya Raman" in m["text"])
        await self.press(RIYA, card, "intro_outcome_no_response")
        await stack.until(lambda: "went quiet" in self.dms(RIYA)[-1]["text"], "the offer")
        self.show_dm(RIYA, self.dms(RIYA)[-1])

        self.say("Riya asks Carlos for a nudge: he gets a message ready to forward")
        offer = self.dms(RIYA)[-1]
        await self.press(RIYA, offer, "intro_secondary_bump")
        await stack.until(lambda: "heard back" in self.dms(CARLOS)[-1]["text"], "the bump")
        self.show_dm(CARLOS, self.dms(CARLOS)[-1])

        self.say("And a second voice: Riya asks Olivia, the form already filled in")
        opened = fake.count("views.open")
        await self.press(RIYA, offer, "intro_secondary_ask_1")
        await stack.until(lambda: fake.count("views.open") > opened, "the form")
        form = fake.calls_to("views.open")[-1].args["view"]
        filled = [
            b["element"].get("initial_value") or self.name_of(b["element"].get("initial_user", ""))
            for b in form["blocks"]
            if b.get("type") == "input"
            and b["block_id"].startswith(("connector", "target_name", "target_company"))
        ]
        print(f"   (the form opens with {', '.join(filled)} filled in)")
        question = next(b for b in form["blocks"] if b.get("block_id") == "name_first_connector")
        print(f"   {question['label']['text']} Yes")
        values: dict[str, Any] = {
            b["block_id"]: b["element"].get("initial_value") or b["element"].get("initial_user")
            for b in form["blocks"]
            if b.get("type") == "input" and b["element"]["type"] != "static_select"
        }
        values["name_first_connector"] = "yes"
        before = len(self.dms(OLIVIA))
        await stack.slack.interaction(payloads.view_submission(RIYA, form, values))
        await stack.until(lambda: len(self.dms(OLIVIA)) > before, "Olivia's card")
        self.show_dm(OLIVIA, self.dms(OLIVIA)[-1])

    async def routing_and_export(self) -> None:
        fake, stack = self.stack.fake, self.stack
        assert stack.slack is not None
        self.say("Alex, an admin, routes intros at Globex through its account owner, Olivia")
        reply = await self.private_reply(
            ALEX, f"owner Globex <@{OLIVIA}|olivia>", "the confirmation"
        )
        self.show(ALEX, "(only visible to him)", [self.text(reply["text"])])

        self.say("Alex makes Globex Europe, as some write it, the same company as Globex")
        reply = await self.private_reply(
            ALEX, 'company merge "Globex" "Globex Europe"', "the confirmation"
        )
        self.show(ALEX, "(only visible to him)", [self.text(reply["text"])])

        self.say(
            "Sam asks Carlos for an intro to Seán O'Brien at Globex Europe GmbH: Olivia sees it "
            "first"
        )
        opened = fake.count("views.open")
        await stack.slack.command(
            payloads.slash_command(SAM, "Seán O'Brien", fake.issue_trigger_id(SAM))
        )
        await stack.until(lambda: fake.count("views.open") > opened, "Sam's form")
        view = fake.calls_to("views.open")[-1].args["view"]
        await stack.slack.interaction(
            payloads.view_submission(
                SAM,
                view,
                {
                    "connector": CARLOS,
                    "target_name": "Seán O'Brien",
                    "target_company": "Globex Europe GmbH",
                    "reason": "You're replacing your freight auditing vendor this quarter, and we "
                    "usually find 3-5% in overcharges within a month.",
                    "blurb": SAM_BLURB,
                    "closeness": "met_once",
                },
            )
        )
        await stack.until(lambda: "Seán" in self.dms(OLIVIA)[-1]["text"], "Olivia's card")
        self.show_dm(OLIVIA, self.dms(OLIVIA)[-1])
        await self.press(OLIVIA, self.dms(OLIVIA)[-1], "intro_owner_approve")
        await stack.until(
            lambda: any("Seán" in m["text"] for m in self.dms(CARLOS)), "Carlos's new card"
        )
        await stack.until(
            lambda: any("approved your ask" in m["text"] for m in self.dms(SAM)), "Sam's notice"
        )
        print("   (Olivia approved; only now is Carlos asked)")
        self.show_dm(SAM, next(m for m in self.dms(SAM) if "approved your ask" in m["text"]))

        self.say("Carlos barely knows Seán: he won't make the intro, but Sam may mention his name")
        card = next(m for m in self.dms(CARLOS) if "Seán" in m["text"])
        opened = fake.count("views.open")
        await self.press(CARLOS, card, "intro_mention_name")
        await stack.until(lambda: fake.count("views.open") > opened, "the question")
        view = fake.calls_to("views.open")[-1].args["view"]
        self.show(CARLOS, "", render_view(view, self.name_of))
        how = "from the Hamburg logistics meetup a few years back"
        print(f"   how_known: {how}")
        await stack.slack.interaction(payloads.view_submission(CARLOS, view, {"how_known": how}))
        await stack.until(
            lambda: any("suggested it" in m["text"] for m in self.dms(SAM)), "Sam's notice"
        )
        self.show_dm(SAM, self.dms(SAM)[-1])

        await self.other_paths()

        self.say("Alex exports every request for the CRM: a CSV in his DM")
        await stack.slack.command(
            payloads.slash_command(
                ALEX, "export", fake.issue_trigger_id(ALEX), response_url=fake.response_url()
            )
        )
        await stack.until(lambda: bool(fake.uploads), "the export")
        content = fake.uploads[-1]["content"].decode().splitlines()
        self.show(ALEX, "in his DM (introbot-requests.csv)", content[:5])
        await self.managers_view()

    async def managers_view(self) -> None:
        fake, stack = self.stack.fake, self.stack
        assert stack.slack is not None
        self.say("Alex names Olivia a manager, of Riya and Sam; Olivia opens introbot's Home tab")
        reply = await self.private_reply(
            ALEX, f"team <@{OLIVIA}|olivia> <@{RIYA}|riya> <@{SAM}|sam>", "the confirmation"
        )
        self.show(ALEX, "(only visible to him)", [self.text(reply["text"])])
        published = fake.count("views.publish")
        await stack.slack.event(payloads.app_home_opened(OLIVIA))
        await stack.until(lambda: fake.count("views.publish") > published, "Olivia's Home tab")
        blocks = fake.home_views[OLIVIA]["blocks"]
        start = next(i for i, b in enumerate(blocks) if b.get("block_id") == "team_members") - 1
        end = next(i for i, b in enumerate(blocks) if b.get("block_id") == "team_asks")
        self.show(OLIVIA, "on her Home tab", render_blocks(blocks[start : end + 1], self.name_of))
        chart = next(b for b in blocks if b.get("block_id") == "team_chart")
        size = len(fake.file_contents[chart["slack_file"]["id"]])
        print(
            f"   (the chart is a {size:,}-byte PNG introbot uploaded;"
            " unchanged, it is not sent again)"
        )

    async def offered_intro(self) -> None:
        fake, stack = self.stack.fake, self.stack
        assert stack.slack is not None
        self.say("Olivia knows Tom Berg at Initech and offers Sam the intro")
        reply = await self.private_reply(
            OLIVIA, f"offer <@{SAM}|sam> Tom Berg at Initech", "the confirmation"
        )
        self.show(OLIVIA, "(only visible to her)", [self.text(reply["text"])])
        offer = await self.first_dm_containing(SAM, "offers to introduce you")
        self.show_dm(SAM, offer)

        self.say("Sam takes it: the form opens with Olivia chosen; he writes his note")
        opened = fake.count("views.open")
        await self.press(SAM, offer, "intro_offer_take")
        await stack.until(lambda: fake.count("views.open") > opened, "Sam's form")
        view = fake.calls_to("views.open")[-1].args["view"]
        connector_block = next(
            b["block_id"] for b in view["blocks"] if b.get("block_id", "").startswith("connector")
        )
        await stack.slack.interaction(
            payloads.view_submission(
                SAM,
                view,
                {
                    connector_block: OLIVIA,
                    "target_name": "Tom Berg",
                    "target_company": "Initech",
                    "reason": "Your sales team is rebuilding its freight budget, and we show "
                    "where it leaks.",
                    "blurb": PRIYA_BLURB.replace("Priya", "Tom"),
                },
            )
        )
        card = await self.first_dm_containing(OLIVIA, "took your offer of an intro to Tom")
        print("   (already accepted: Olivia checks with Tom first, as after Accept)")
        self.show_dm(OLIVIA, card)

    async def first_dm_containing(self, who: str, words: str) -> dict[str, Any]:
        await self.stack.until(lambda: any(words in m["text"] for m in self.dms(who)), words)
        return next(m for m in self.dms(who) if words in m["text"])

    async def other_paths(self) -> None:
        """After a no: "Ask them" opens the form for the next-best teammate; with no warm
        path at all, the note becomes a cold first message."""
        fake, stack = self.stack.fake, self.stack
        assert stack.slack is not None and stack.services is not None
        await stack.services.directory.add_contact(
            "T0FAKE", OLIVIA, ContactInput("Priya Raman", "Initech", closeness="know_well")
        )
        self.say("Sam asks Carlos for an intro to Priya Raman; Carlos declines")
        values = {
            "connector": CARLOS,
            "target_name": "Priya Raman",
            "target_company": "Initech",
            "reason": "You ship to 40 countries, and we find what you overpay on freight.",
            "blurb": SAM_BLURB.replace("Seán", "Priya").replace("Globex", "Initech"),
        }
        opened = fake.count("views.open")
        cards = len(self.dms(CARLOS))
        await stack.slack.command(payloads.slash_command(SAM, "", fake.issue_trigger_id(SAM)))
        await stack.until(lambda: fake.count("views.open") == opened + 1, "Sam's form")
        await stack.slack.interaction(
            payloads.view_submission(SAM, fake.calls_to("views.open")[-1].args["view"], values)
        )
        await stack.until(
            lambda: any("Priya" in m["text"] for m in self.dms(CARLOS)[cards:]), "Carlos's card"
        )
        card = next(m for m in self.dms(CARLOS)[cards:] if "Priya" in m["text"])
        await self.press(CARLOS, card, "intro_decline")
        await stack.until(lambda: fake.count("views.open") == opened + 2, "the decline form")
        await stack.slack.interaction(
            payloads.view_submission(CARLOS, fake.calls_to("views.open")[-1].args["view"], {})
        )
        await stack.until(
            lambda: "can't make the intro" in self.dms(SAM)[-1]["text"], "Sam's notice"
        )
        notice = self.dms(SAM)[-1]
        self.show_dm(SAM, notice)

        self.say("Sam presses Ask them: the form opens filled in for Olivia; he sends it")
        await self.press(SAM, notice, "intro_ask_secondary_1")
        await stack.until(lambda: fake.count("views.open") == opened + 3, "the prefilled form")
        form = fake.calls_to("views.open")[-1].args["view"]
        self.show(SAM, "", render_view(form, self.name_of))
        await stack.slack.interaction(
            payloads.view_submission(
                SAM,
                form,
                {k: v for k, v in values.items() if k != "connector"}
                | {f"connector:{OLIVIA}": OLIVIA},
            )
        )
        await stack.until(
            lambda: any("Priya" in m["text"] for m in self.dms(OLIVIA)), "Olivia's card"
        )
        print("   (a new request to Olivia, linked to the declined one: one person, two paths)")

        self.say("Riya wants to meet Bo Lee at Hooli; nobody knows him, so she goes in cold")
        before = fake.count("views.update")
        await stack.slack.command(
            payloads.slash_command(RIYA, "Bo Lee (Hooli)", fake.issue_trigger_id(RIYA))
        )
        await stack.until(lambda: fake.count("views.update") > before, "the no-warm-path hint")
        call = fake.calls_to("views.update")[-1]
        hinted = {**call.args["view"], "id": call.args["view_id"]}
        self.show(RIYA, "", render_view(hinted, self.name_of))
        cold = {
            "target_name": "Bo Lee",
            "target_company": "Hooli",
            "reason": "You just opened a Rotterdam hub, and customs delays are what we fix.",
            "blurb": BLURB.replace("Jane", "Bo").replace("Acme's", "Hooli's"),
        }
        await stack.slack.interaction(
            payloads.view_action(
                RIYA,
                hinted,
                {"action_id": "intro_go_cold_form", "block_id": "no_warm_path", "value": "cold"},
                cold,
            )
        )
        await stack.until(
            lambda: "first message to *Bo Lee*" in self.dms(RIYA)[-1]["text"], "Riya's cold message"
        )
        self.show_dm(RIYA, self.dms(RIYA)[-1])

    async def checking_with_the_target(self) -> None:
        """A reminder while Carlos checks with the target, and a "not now" that comes back on
        the day he picks."""
        fake, stack = self.stack.fake, self.stack
        assert stack.slack is not None
        self.say("Sam asks Carlos for an intro to Nina Cole at Initech; Carlos accepts")
        opened = fake.count("views.open")
        await stack.slack.command(
            payloads.slash_command(SAM, "Nina Cole", fake.issue_trigger_id(SAM))
        )
        await stack.until(lambda: fake.count("views.open") > opened, "Sam's form")
        view = fake.calls_to("views.open")[-1].args["view"]
        await stack.slack.interaction(
            payloads.view_submission(
                SAM,
                view,
                {
                    "connector": CARLOS,
                    "target_name": "Nina Cole",
                    "target_company": "Initech",
                    "reason": "Your sales team is moving to usage-based pricing this year, and we "
                    "make that work without rebuilding your billing.",
                    "blurb": PRIYA_BLURB.replace("Priya", "Nina"),
                    "closeness": "know_well",
                },
            )
        )
        await stack.until(lambda: self.nina_card() is not None, "Carlos's card")
        await self.press(CARLOS, self.card_about("Nina"), "intro_accept")
        await stack.until(
            lambda: any("will check with *Nina" in m["text"] for m in self.dms(SAM)), "notice"
        )

        self.say("Three working days on, Carlos hasn't said what Nina answered: introbot asks")
        await self.later(timedelta(days=3))
        reminder = self.dms(CARLOS)[-1]
        self.show_dm(CARLOS, reminder)
        await self.press(CARLOS, reminder, "intro_still_waiting")
        await stack.until(lambda: self.dms(CARLOS)[-1]["updates"] >= 1, "the thanks")
        self.show_dm(CARLOS, self.dms(CARLOS)[-1], "(that message, updated)")

        self.say("Nina answers: not now, maybe next month. Carlos picks the day to ask again")
        opened = fake.count("views.open")
        await self.press(CARLOS, self.dms(CARLOS)[-1], "intro_target_not_now")
        await stack.until(lambda: fake.count("views.open") > opened, "the date picker")
        view = fake.calls_to("views.open")[-1].args["view"]
        self.show(CARLOS, "", render_view(view, self.name_of))
        day = next(
            block["element"]["initial_date"]
            for block in view["blocks"]
            if block.get("block_id") == "ask_again_on"
        )
        await stack.slack.interaction(payloads.view_submission(CARLOS, view, {"ask_again_on": day}))
        await stack.until(lambda: "said not now" in self.dms(SAM)[-1]["text"], "Sam's notice")
        self.show_dm(SAM, self.dms(SAM)[-1])

        self.say("Four weeks later, on that day, introbot gives Carlos his ask again")
        await self.later(timedelta(weeks=4))
        self.show_dm(CARLOS, self.dms(CARLOS)[-1])
        self.show_dm(SAM, self.dms(SAM)[-1])

    async def better_person(self) -> None:
        """ "Not Dana: talk to Bob Lee": Carlos points Riya to a better person than the one she
        asked for, and she asks him for that intro instead."""
        fake, stack = self.stack.fake, self.stack
        assert stack.slack is not None
        self.say("Riya asks Carlos for an intro to Dana Cruz at Umbrella")
        values = {
            "connector": CARLOS,
            "target_name": "Dana Cruz",
            "target_company": "Umbrella",
            "reason": "You're moving your EU freight to new carriers this spring, and we cut what "
            "the switch costs.",
            "blurb": BLURB.replace("Jane", "Dana").replace("Acme's", "Umbrella's"),
        }
        opened = fake.count("views.open")
        await stack.slack.command(payloads.slash_command(RIYA, "", fake.issue_trigger_id(RIYA)))
        await stack.until(lambda: fake.count("views.open") == opened + 1, "Riya's form")
        await stack.slack.interaction(
            payloads.view_submission(RIYA, fake.calls_to("views.open")[-1].args["view"], values)
        )
        await stack.until(lambda: any("Dana" in m["text"] for m in self.dms(CARLOS)), "card")

        self.say('Carlos: "Not Dana: talk to Bob Lee, procurement lead at Umbrella"')
        await self.press(CARLOS, self.card_about("Dana Cruz"), "intro_redirect")
        await stack.until(lambda: fake.count("views.open") == opened + 2, "the suggest form")
        form = fake.calls_to("views.open")[-1].args["view"]
        self.show(CARLOS, "", render_view(form, self.name_of))
        person = {
            "person_name": "Bob Lee",
            "person_title": "Procurement lead",
            "person_company": "Umbrella",
            "note": "Bob chooses the carriers; Dana would send you to him anyway.",
        }
        for field, value in person.items():
            print(f"   {field}: {value}")
        await stack.slack.interaction(payloads.view_submission(CARLOS, form, person))
        notice = await self.first_dm_containing(RIYA, "is a better person for you")
        self.show_dm(RIYA, notice)

        self.say("Riya presses Ask Carlos to introduce Bob: the form is ready for Bob")
        await self.press(RIYA, notice, "intro_ask_person")
        await stack.until(lambda: fake.count("views.open") == opened + 3, "the form for Bob")
        form = fake.calls_to("views.open")[-1].args["view"]
        self.show(RIYA, "", render_view(form, self.name_of))
        filled = {
            str(block["block_id"]): block["element"].get("initial_value")
            or block["element"].get("initial_user")
            for block in form["blocks"]
            if block.get("type") == "input" and block["element"]["type"] != "static_select"
        }
        await stack.slack.interaction(payloads.view_submission(RIYA, form, filled))
        await stack.until(lambda: any("Bob Lee" in m["text"] for m in self.dms(CARLOS)), "card")
        self.show_dm(CARLOS, self.card_about("Bob Lee"))
        print("   (the ask for Bob follows the one for Dana: one account, two paths)")

    async def outside_the_team(self) -> None:
        """The best path is someone not on Slack: Riya gets the email to send them and tells
        introbot, at each step, what they said."""
        fake, stack = self.stack.fake, self.stack
        assert stack.slack is not None
        self.say("Riya's best path to Wen Li at Umbrella is Dana Cole, an investor not on Slack")
        opened = fake.count("views.open")
        await stack.slack.command(payloads.slash_command(RIYA, "", fake.issue_trigger_id(RIYA)))
        await stack.until(lambda: fake.count("views.open") > opened, "Riya's form")
        shown = fake.calls_to("views.open")[-1].args["view"]
        form = next(v for v in reversed(fake.views.values()) if v["blocks"] == shown["blocks"])
        updated = fake.count("views.update")
        await stack.slack.interaction(
            payloads.view_action(
                RIYA,
                form,
                {"action_id": "intro_outside_form", "block_id": "outside_switch", "value": "x"},
            )
        )
        await stack.until(lambda: fake.count("views.update") > updated, "the outside form")
        call = fake.calls_to("views.update")[-1]
        outside_form = {**call.args["view"], "id": call.args["view_id"]}
        print("   (Riya pressed Connector outside Slack?: the form asks about Dana instead)")
        self.show(RIYA, "", render_view(outside_form, self.name_of))
        cards = len(self.dms(RIYA))
        await stack.slack.interaction(
            payloads.view_submission(
                RIYA,
                outside_form,
                {
                    "outside_name": "Dana Cole",
                    "outside_email": "dana@example.com",
                    "outside_knows_target": "She sits on Umbrella's board",
                    "outside_knows_them": "She led our seed round",
                    "target_name": "Wen Li",
                    "target_company": "Umbrella",
                    "reason": "Umbrella is moving its EU freight through Rotterdam this year, "
                    "and cutting customs delays there is what we do.",
                    "blurb": BLURB.replace("Jane", "Wen").replace("Acme's", "Umbrella's"),
                },
            )
        )
        await stack.until(lambda: len(self.dms(RIYA)) > cards, "Riya's card")
        card = self.dms(RIYA)[cards]
        self.show_dm(RIYA, card)

        self.say("Dana writes back that she'll ask Wen; Riya tells introbot")
        await self.press(RIYA, card, "intro_outside_agreed")
        await self.later(timedelta(days=5))
        check = await self.first_dm_containing(RIYA, "heard back from")
        self.show_dm(RIYA, check)

        self.say("Wen said yes and Dana made the intro")
        await self.intro_made(RIYA, check, "intro_outside_target_agreed")
        await stack.until(
            lambda: "Dana made the intro" in str(self.dms(RIYA)[cards]["blocks"]), "the card"
        )
        self.show_dm(RIYA, self.dms(RIYA)[cards], "in her DM (the card, updated)")

    async def a_targets_no(self) -> None:
        """The target says no: the ask closes with the requester's own thanks, and the next
        teammate who asks for her is told."""
        fake, stack = self.stack.fake, self.stack
        assert stack.slack is not None
        self.say("Sam asks Carlos for an intro to Dana Kim at Umbrella; Carlos asks, Dana says no")
        opened = fake.count("views.open")
        await stack.slack.command(payloads.slash_command(SAM, "", fake.issue_trigger_id(SAM)))
        await stack.until(lambda: fake.count("views.open") == opened + 1, "Sam's form")
        await stack.slack.interaction(
            payloads.view_submission(
                SAM,
                fake.calls_to("views.open")[-1].args["view"],
                {
                    "connector": CARLOS,
                    "target_name": "Dana Kim",
                    "target_company": "Umbrella",
                    "reason": "You ship to 30 countries, and we find what you overpay on freight.",
                    "blurb": SAM_BLURB.replace("Seán", "Dana").replace("Globex", "Umbrella"),
                    "closeness": "know_well",
                },
            )
        )
        await stack.until(lambda: self.card_or_none("Dana Kim") is not None, "Carlos's card")
        await stack.sends_recorded()  # Carlos reads the card before he presses
        await self.press(CARLOS, self.card_about("Dana Kim"), "intro_accept")
        await stack.until(lambda: self.card_about("Dana Kim")["updates"] >= 1, "the card")
        await self.press(CARLOS, self.card_about("Dana Kim"), "intro_target_declined")
        await stack.until(lambda: "said no" in self.dms(SAM)[-1]["text"], "Sam's notice")
        notice = self.dms(SAM)[-1]
        self.show_dm(SAM, notice)

        self.say("Sam presses Thank Carlos: his own words, prefilled, his to change")
        await self.press(SAM, notice, "intro_thank_connector")
        await stack.until(lambda: fake.count("views.open") == opened + 2, "the thanks form")
        form = fake.calls_to("views.open")[-1].args["view"]
        self.show(SAM, "", render_view(form, self.name_of))
        notes = len(self.dms(CARLOS))
        words = "Thanks for asking Dana for me, Carlos. A clear no saves us both time."
        await stack.slack.interaction(payloads.view_submission(SAM, form, {"thanks": words}))
        await stack.until(lambda: len(self.dms(CARLOS)) > notes, "Carlos's note")
        self.show_dm(CARLOS, self.dms(CARLOS)[-1])

        self.say("A week later Riya types `/intro Dana Kim (Umbrella)`: the form remembers")
        await self.later(timedelta(days=7))
        before = fake.count("views.update")
        await stack.slack.command(
            payloads.slash_command(RIYA, "Dana Kim (Umbrella)", fake.issue_trigger_id(RIYA))
        )
        await stack.until(lambda: fake.count("views.update") > before, "the form's findings")
        self.show(
            RIYA, "", render_view(fake.calls_to("views.update")[-1].args["view"], self.name_of)
        )

    async def a_way_in(self) -> None:
        """Olivia knows the account, not the person: she asks for a way in at Globex, and
        Carlos, who knows people there, picks whom to ask as he accepts."""
        fake, stack = self.stack.fake, self.stack
        assert stack.slack is not None
        self.say("Olivia asks for a way in at Globex: no name, just whoever runs engineering")
        opened = fake.count("views.open")
        await stack.slack.command(payloads.slash_command(OLIVIA, "", fake.issue_trigger_id(OLIVIA)))
        await stack.until(lambda: fake.count("views.open") == opened + 1, "Olivia's form")
        _, answer = await stack.slack.interaction(
            payloads.view_submission(
                OLIVIA,
                fake.calls_to("views.open")[-1].args["view"],
                {
                    "connector": CARLOS,
                    "target_name": "",
                    "target_company": "Globex",
                    "target_role": "whoever runs engineering",
                    "reason": "You ship to 30 countries, and we find what you overpay on freight.",
                    # No one to greet by name: whoever Carlos picks reads it.
                    "blurb": SAM_BLURB.replace("Hi Seán", "Hi").replace(
                        "Sam Okafor", "Olivia Chen"
                    ),
                },
            )
        )
        assert answer == "", answer  # sent as written: nothing to coach
        await stack.until(
            lambda: any("way in at Globex" in m["text"] for m in self.dms(CARLOS)), "card"
        )
        card = self.way_in_card()
        self.show_dm(CARLOS, card)

        self.say("Carlos presses Accept and pick: his own contacts at Globex, or a name")
        await self.press(CARLOS, card, "intro_accept_way_in")
        await stack.until(lambda: fake.count("views.open") == opened + 2, "the pick")
        form = fake.calls_to("views.open")[-1].args["view"]
        self.show(CARLOS, "(his list, seen by him alone)", render_view(form, self.name_of))
        [listed] = [b for b in form["blocks"] if b.get("block_id") == "contact"]
        sean = listed["element"]["options"][0]["value"]
        _, answer = await stack.slack.interaction(
            payloads.view_submission(CARLOS, form, {"contact": sean})
        )
        assert answer == "", answer
        await stack.until(lambda: self.way_in_card()["updates"] >= 1, "Carlos's card")
        card = self.way_in_card()
        self.show_dm(CARLOS, card)

        def accepted() -> list[dict[str, Any]]:
            return [m for m in self.dms(OLIVIA) if "accepted your request" in m.get("text", "")]

        await stack.until(lambda: bool(accepted()), "Olivia hears")
        self.show_dm(OLIVIA, accepted()[-1])
        print("   (Olivia isn't told whom Carlos asked until they agree)")

        self.say("Seán agrees: Carlos reports it, and Olivia learns whom she's meeting")
        await self.intro_made(CARLOS, card, "intro_target_agreed")
        await stack.until(lambda: "Seán" in self.dms(OLIVIA)[-1]["text"], "Olivia's notice")
        self.show_dm(OLIVIA, self.dms(OLIVIA)[-1])

    def way_in_card(self) -> dict[str, Any]:
        """Carlos's DM about Olivia's ask for a way in at Globex, before and after his pick."""
        return next(
            m for m in self.dms(CARLOS) if f"<@{OLIVIA}>" in m["text"] and "Globex" in m["text"]
        )

    def card_or_none(self, name: str) -> dict[str, Any] | None:
        return next(
            (
                m
                for m in self.dms(CARLOS)
                if "asks you for an intro" in m["text"] and name in m["text"]
            ),
            None,
        )

    def nina_card(self) -> dict[str, Any] | None:
        return next((m for m in self.dms(CARLOS) if "Nina" in m["text"]), None)

    async def accounts(self) -> None:
        await _accounts(self)

    def card_about(self, name: str) -> dict[str, Any]:
        return next(
            m
            for m in self.dms(CARLOS)
            if "asks you for an intro" in m["text"] and name in m["text"]
        )


RIYA_ACCOUNTS = """Account Name,Domain,Tier
Acme Logistics,acme.example,Tier 1
"Globex, Inc.",globex.example,Tier 1
Initech,,Tier 2
Hooli,hooli.example,Tier 2
"""


async def _accounts(demo: Demo) -> None:
    """Riya's accounts: which have a way in, never whom her teammates know there."""
    fake, stack = demo.stack.fake, demo.stack
    assert stack.slack is not None
    demo.say("Riya sends introbot the accounts she is working, as a CSV")
    shared = fake.add_file(RIYA, "accounts.csv", RIYA_ACCOUNTS.encode())
    await stack.slack.event(payloads.file_shared(RIYA, shared["id"], fake.dm_channel(RIYA)))
    await stack.until(
        lambda: any("accounts.csv" in m["text"] and "added" in m["text"] for m in demo.dms(RIYA)),
        "the accounts report",
    )
    demo.show_dm(RIYA, demo.dms(RIYA)[-1])
    demo.say(
        "`/intro accounts`: where the team has a way in, and whom to ask (never whom they know)"
    )
    coverage = await demo.private_reply(RIYA, "accounts", "the coverage")
    demo.show(RIYA, "(only visible to her)", render_blocks(coverage["blocks"], demo.name_of))


async def run_demo() -> int:
    with tempfile.TemporaryDirectory(prefix="introbot-demo-") as folder:
        url = f"sqlite:///{Path(folder) / 'demo.db'}"
        # A clock the demo moves by hand, so days pass in a second: a Monday, 10:00 in New York.
        clock = ManualClock(datetime(2026, 1, 5, 15, 0, tzinfo=UTC))
        # The team's CRM: a stand-in HubSpot on loopback, set as one workspace would set it.
        async with FakeHubSpot() as hubspot:
            crm = {"INTROBOT_HUBSPOT_TOKEN": hubspot.token, "INTROBOT_HUBSPOT_API_URL": hubspot.url}
            async with LocalStack(url, clock=clock, settings=crm) as stack:
                await Demo(stack, clock, hubspot).run()
    return 0
