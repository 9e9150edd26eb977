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
        "│ Hi Jane, a colleague of mine (Head of Partnerships, Northwind) asked me for an intro",
        "2. Once they say yes, send this intro email and cc @Riya Patel:",
        "│ riya@northwind.example",
        "🙌 @Carlos Mendes won't make the intro to Seán O'Brien themselves",
        "│ Subject: Carlos Mendes suggested I get in touch",
        "U0SECOND,name_mentioned,name_mentioned",
        "It was accepted, and the target is being asked.",
        "That button is out of date",
        "Intro made",
        "held until Riya's working day",
        "[ I followed up ]",
        "Meeting held",
        "met Jane Doe after your intro",
        "Any news since your meeting with Jane Doe at Acme Logistics on Jan 13?",
        "🏆 Closed-won: @Riya Patel won the deal with Jane Doe at Acme Logistics",
        "Priya Raman hasn't answered since @Carlos Mendes's intro.",
        "[ Ask Olivia Chen ]  [ Ask Carlos to nudge Priya ]  [ Leave it ]",
        "hasn't heard back from Priya Raman since your intro",
        "│ Just bringing my intro to Riya Patel back to the top of your inbox",
        "(the form opens with Olivia Chen, Priya Raman, Initech filled in)",
        "Meeting Date,Opportunity Date,Won Date,Lost Date",
        "Thanked most: @Carlos Mendes (1)",
        "Intros at Globex now go through @Olivia Chen first.",
        "[ Approve ]  [ Edit the note ]  [ Decline ]",
        "approved your ask",
        "Who else may know Priya Raman, best path first:",
        "[ Ask them ]",
        "[ Pick someone else ]  [ Go in cold ]",
        "Who knows them?: [@Olivia Chen]",
        "linked to the declined one",
        "No teammate is known to know them.",
        "│ Subject: Bo, a question about Hooli",
        "│ Why I'm writing to you: Hooli just opened a Rotterdam hub",
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
        "│ Hi Nina, a colleague of mine asked me for an intro to you at Initech.",
        "@Carlos Mendes is asking Nina Cole again about your intro",
        "0 channel-wide pings",
    ):
        assert line in out, line
