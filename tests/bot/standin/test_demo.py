"""`introbot demo` runs the whole story and shows what each person sees."""

from __future__ import annotations

import pytest

from bot.standin.demo import run_demo


async def test_demo_tells_the_whole_story(capsys: pytest.CaptureFixture[str]) -> None:
    assert await run_demo() == 0
    out = capsys.readouterr().out
    for line in (
        "Imported Connections.csv: 3 added",
        "Teammates who know them, best path first:",
        "1. @Carlos Mendes",
        "what Riya Patel sees",
        "what Carlos Mendes sees",
        "[ Accept ]  [ Decline ]  [ Suggest someone else ]  [ Mention my name ]",
        "1. Ask Jane Doe first, without naming @Riya Patel",
        "No pressure if it isn't a fit. You can say no, point to a better person, or lend your",
        "Your answer, not @Riya Patel's guess, goes with Accept.",
        "│ Hi Jane, someone on our partnerships team asked me for an intro to you at Acme "
        "Logistics: they'd like a 15-minute call. What's in it for you, as they put it:",
        "│ You two should meet: Riya's team cut customs delays by a third for shippers like Acme",
        "│ Riya's note:",
        "│ Best,\n     │ Carlos",
        "2. Once they say yes, send this intro email and cc @Riya Patel:",
        "│ riya@northwind.example",
        "🙌 @Carlos Mendes won't make the intro to Seán O'Brien themselves",
        "│ Subject: Seán, a 15-minute call about Globex Europe GmbH?",
        "│ Carlos Mendes, a colleague of mine who knows you from the Hamburg logistics meetup a "
        "few years back, suggested I get in touch.",
        "U0SECOND,name_mentioned,name_mentioned",
        "Olivia Chen,U0OTHER,Riya Patel,U0REQUESTER,awaiting_connector,,2026-02-15,,,,,re-ask,2",
        "It was accepted, and the target is being asked.",
        "That button is out of date",
        "Intro made",
        "Their email, for the team's CRM (optional): […]",
        "what RevOps sees in HubSpot",
        "introbot_lead_source: Warm Introduction",
        "introbot_referred_by: Carlos Mendes",
        "note: Warm intro: Closed won Riya Patel asked; Carlos Mendes made the intro.",
        "two hours after the intro: held a while yet",
        "introduced you to Jane Doe today. Follow up now",
        "[ I followed up ]",
        "Meeting held",
        "met Jane Doe after your intro",
        "Any news since your meeting with Jane Doe at Acme Logistics on Jan 13?",
        "🏆 Closed-won: @Riya Patel won the deal with Jane Doe at Acme Logistics",
        "Priya Raman agreed to the intro, then went quiet. Two ways to get an answer: a nudge",
        "[ Ask Olivia Chen to add a voice ]  [ Ask Carlos to nudge Priya ]  [ Leave it ]",
        "hasn't heard back from Priya Raman since your intro",
        "│ Bringing my intro to Riya Patel back to the top of your inbox",
        "I still think a 15-minute call would be worth your while: you ship across borders",
        "(the form opens with Olivia Chen, Priya Raman, Initech filled in)",
        "May they say Carlos made the first intro? Yes",
        "💬 @Riya Patel asks you to add a second voice with Priya Raman at Initech. Priya agreed",
        "to an intro from @Carlos Mendes on Thursday 12 February, then went quiet. Would you add",
        "Meeting Date,Opportunity Date,Won Date,Lost Date",
        ":door: @Olivia Chen would like a way in at Globex, ideally whoever runs engineering",
        "[ Accept and pick ]  [ Decline ]  [ Suggest someone else ]",
        "Someone you know at Globex (optional)",
        "1. Ask Seán O’Brien first, without naming @Olivia Chen",
        "🎉 Seán O’Brien agreed, and @Carlos Mendes made the intro.",
        "Thanked most: @Carlos Mendes (1)",
        "Intros at Globex now go through @Olivia Chen first.",
        "Globex Europe and Globex are now one company: intros at either go through the same",
        "who owns the Globex Europe GmbH account, approved your ask",
        "[ Approve ]  [ Edit the note ]  [ Decline ]",
        "approved your ask",
        "Who else may know Priya Raman, best path first:",
        "[ Ask them ]",
        "[ Pick someone else ]  [ Go in cold ]",
        "Who knows them?: [@Olivia Chen]",
        "linked to the declined one",
        "No teammate is known to know them.",
        "│ Subject: Bo, a 15-minute call about Hooli?",
        "│ You just opened a Rotterdam hub, and customs delays are what we fix.",
        "Request ID,First Name,Last Name,Company,Lead Source",
        "🤝 @Olivia Chen knows Tom Berg at Initech and offers to introduce you.",
        "[ Take it ]  [ No thanks ]",
        "🤝 @Sam Okafor took your offer of an intro to Tom Berg at Initech.",
        "1. Ask Tom Berg first, without naming @Sam Okafor",
        "🔍 Did Nina Cole answer?",
        "[ They agreed: intro made ]  [ They declined ]  [ Not now ]  [ Still waiting ]",
        "Monday 23 February. Tell me here when they answer.",
        "Ask them again on: [📅 2026-03-18]",
        "@Carlos Mendes will ask them again on Wednesday 18 March",
        "you chose Wednesday 18 March to ask them again",
        "│ Hi Nina, a colleague of mine asked me for an intro to you at Initech: they'd like",
        "@Carlos Mendes is asking Nina Cole again about your intro",
        "Or a better person to talk to than Dana Cruz",
        "thinks Bob Lee (Procurement lead, Umbrella) is a better",
        "[ Ask Carlos to introduce Bob ]",
        "Who do you want to meet? (optional): [Bob Lee]",
        "You pointed @Riya Patel to Bob Lee instead of Dana Cruz",
        "📩 Your ask to Dana Cole, outside the team, for an intro to Wen Li at Umbrella.",
        "│ Hi Dana,",
        '│ "Hi Wen, someone I know asked me for an intro to you at Umbrella.',
        "[ Dana will ask Wen ]  [ Dana said no ]",
        "💬 Has Dana heard back from Wen Li?",
        "🤝 Intro made: Dana made the intro. Follow up while it's warm.",
        "0 channel-wide pings",
    ):
        assert line in out, line
    # Who asks is never named, titled or placed in a team before the target agrees.
    assert "colleague of mine (Head of Partnerships" not in out
    assert "In their words" not in out and "Why I'm writing to you" not in out
    # An ask for a way in: the requester hears it was accepted, not whom the connector picked.
    assert "will check with someone (whoever runs engineering)" in " ".join(out.split())
