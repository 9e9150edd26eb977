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
        "how deals start",
        "Thanked most: @Carlos Mendes (1)",
        "Intros at Globex now go through @Olivia Chen first.",
        "[ Approve ]  [ Edit the note ]  [ Decline ]",
        "approved your ask",
        "Request ID,First Name,Last Name,Company,Lead Source",
        "🔍 Did Priya Raman answer?",
        "[ They agreed: intro made ]  [ They declined ]  [ Not now ]  [ Still waiting ]",
        "Wednesday 21 January. Tell me here when they answer.",
        "Ask them again on: [📅 2026-02-13]",
        "@Carlos Mendes will ask them again on Friday 13 February",
        "you chose Friday 13 February to ask them again",
        "│ Hi Priya, a colleague of mine asked me for an intro to you at Initech.",
        "@Carlos Mendes is asking Priya Raman again about your intro",
        "0 channel-wide pings",
    ):
        assert line in out, line
