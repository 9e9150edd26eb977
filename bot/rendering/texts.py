"""The bot's plain-text pieces, rendered from templates/*.txt.j2: the opt-in ask, the intro
email, the messages a requester sends themselves; and the labels every message words."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from bot.rendering.templating import render_text
from bot.templates_dir import TEMPLATES_DIR
from storage.models import IntroRequest


@lru_cache(maxsize=1)
def labels() -> dict[str, Any]:
    with (TEMPLATES_DIR / "labels.json").open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = json.load(handle)
    return loaded


@lru_cache(maxsize=1)
def step_definitions() -> dict[str, Any]:
    """The custom Workflow Builder steps as the manifest declares them: callback id -> title,
    description, input and output parameters (templates/steps.json)."""
    with (TEMPLATES_DIR / "steps.json").open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = json.load(handle)
    return loaded


def first_name(name: str) -> str:
    parts = name.split()
    return parts[0] if parts else name


# A greeting's clause at the start of a note: "Hi Jane," / "Hello Dr. Doe!" / "Hey there:"; a
# name of at most two words (and a title) before the comma or the line's end, so "Hi Jane I'm
# Riya, ..." is left whole rather than cut at "Riya,".
_GREETING_CLAUSE = re.compile(
    r"^\s*(?:hi|hello|hey|dear|greetings|good (?:morning|afternoon|evening))\b"
    r"(?:\s+(?:(?:dr|mr|mrs|ms|prof)\.\s*)?[\w'’-]+){0,2}[ \t]*(?:[,!:.]|\n|$)\s*",
    re.IGNORECASE,
)
# Anything with an @ inside a word is taken for an email address; an @ starting one, or a
# Slack mention, for a handle. Generous on purpose: a false match only hides a word.
_EMAIL = re.compile(r"[^\s<>\"@]+@[^\s<>\"@]+")
_HANDLE = re.compile(r"<@[^>]*>|@[^\s<>\"@]+")


def retarget_note(note: str, old_name: str, new_name: str) -> str:
    """A note written for one person, with their name (whole, then first) changed to another's:
    the start of the note to a better person the connector named, for the requester to read
    through."""
    if not old_name.strip() or not new_name.strip():
        return note
    pairs = [(old_name.strip(), new_name.strip())]
    if len(first_name(old_name)) > 1:
        pairs.append((first_name(old_name), first_name(new_name)))
    for old, new in pairs:
        pattern = re.compile(rf"(?<!\w){re.escape(old)}(?!\w)", re.IGNORECASE)
        note = pattern.sub(new.replace("\\", "\\\\"), note)  # the name as written
    return note


def _requester(request: IntroRequest) -> dict[str, str]:
    """The requester as the intro email and the direct message sign them."""
    name = (request.requester_name or "").strip()
    return {
        "requester_known": name,
        "requester_name": name or labels()["anonymous"]["person"],
        "requester_first_name": first_name(name),
        "requester_title": request.requester_title or "",
        "requester_email": request.requester_email or "",
    }


def note_body(blurb: str) -> tuple[str, str]:
    """A note split into its own greeting ("Hi Jane,", or "") and the rest: quoted under
    someone else's greeting, the note's own is left out."""
    greeting = _GREETING_CLAUSE.match(blurb)
    body = blurb[greeting.end() :] if greeting else blurb
    return (greeting.group(0).strip() if greeting else ""), body.strip()


_SENTENCE_BREAK = re.compile(r"(?<=[.!?])[ \t]+|\n+")


def sentences(text: str) -> list[str]:
    return [part.strip() for part in _SENTENCE_BREAK.split(text) if part.strip()]


_WORD = re.compile(r"\w+")


def _sentence_key(sentence: str) -> str:
    return " ".join(_WORD.findall(sentence.casefold()))


@lru_cache(maxsize=64)
def _keyed_sentences(text: str) -> tuple[tuple[str, str], ...]:
    """`text`'s sentences, each with its key. Kept for the last few texts: an intro email
    compares its note's sentences twice (with the reason, then with the connector's line),
    and a request's messages go out together."""
    return tuple((sentence, _sentence_key(sentence)) for sentence in sentences(text))


def without_repeats(text: str, *said: str) -> str:
    """`text` without the sentences already in `said` (or earlier in itself): a message
    that quotes the reason and the note says a sentence they share once."""
    seen = {key for part in said for _, key in _keyed_sentences(part)}
    kept, every = [], _keyed_sentences(text)
    for sentence, key in every:
        if key and key not in seen:
            kept.append(sentence)
            seen.add(key)
    # As written (its line breaks too) unless a sentence had to go.
    return text.strip() if len(kept) == len(every) else " ".join(kept)


# A sentence's first word that reads on after a colon in lower case ("You two should meet:
# your EU warehouses..."); names and acronyms keep their capital.
_LOWER_AFTER_COLON = {
    "a", "an", "the", "your", "you", "you're", "you'd", "you'll", "we", "we're", "we'd",
    "we've", "our", "it", "it's", "its", "this", "that", "these", "those", "there", "their",
    "they", "they're", "both", "each", "every", "most", "many", "some", "since", "with",
}  # fmt: skip


def after_colon(text: str) -> str:
    """`text` as it reads after a colon: a plain first word in lower case."""
    text = text.strip()
    first = text.split(" ", 1)[0]
    if first.casefold() in _LOWER_AFTER_COLON:
        return first.casefold() + text[len(first) :]
    return text


def ask_size(request: IntroRequest) -> str:
    """What the requester asks the target for, as words: "a 15-minute call"."""
    sizes: dict[str, str] = labels()["ask_size"]
    return sizes.get(request.ask_size or "", sizes["call_15"])


# The requester's own voice: "we cut customs delays" in the connector's line would read as
# the connector's team.
_FIRST_PERSON = re.compile(
    r"(?<![\w'’])(?:i|i'm|i've|i'd|i'll|me|my|mine|we|we're|we've|we'd|we'll|us|our|ours)"
    r"(?![\w'’])",
    re.IGNORECASE,
)


def _in_first_person(text: str) -> bool:
    """Whether `text` speaks as its writer: I, we, our... ("US" and "ME" in capitals are
    places, not people)."""
    found = _FIRST_PERSON.finditer(text.replace("’", "'"))
    return any(not (m.group().isupper() and len(m.group()) > 1) for m in found)


def default_intro_line(request: IntroRequest) -> str:
    """The connector's line on why the two should meet, until the connector edits it: made
    from the reason (what the target gets) when it reads as the connector's words too; when
    the requester wrote it in the first person ("we cut customs delays"), a line vouching for
    the requester's note instead. What the note says already is not said again."""
    _, body = note_body(request.blurb)
    reason = without_repeats(request.reason, body)
    if not reason:
        return ""
    words = labels()["intro_line"]
    if _in_first_person(reason):
        name = first_name((request.requester_name or "").strip())
        return words["vouch"].format(name=name) if name else str(words["vouch_unnamed"])
    return str(words["prefix"]) + after_colon(reason)


def intro_line(request: IntroRequest) -> str:
    """The connector's line in the intro email: theirs once edited (even blank), else the
    one made from the reason."""
    if request.intro_line is not None:
        return request.intro_line.strip()
    return default_intro_line(request)


def forwardable_email(request: IntroRequest) -> str:
    """The intro email the connector sends once the target has agreed: one greeting, each
    side introduced once, the connector's line, the requester's note without its own
    greeting, the target's out and the connector's sign-off."""
    _, body = note_body(request.blurb)
    line = intro_line(request)
    return render_text(
        "forwardable_email.txt.j2",
        target_name=request.target_name,
        target_first_name=first_name(request.target_name),
        target_company=request.target_company,
        intro_line=line,
        blurb=without_repeats(body, line) if line else body,
        connector_first_name=first_name(request.connector_name or ""),
        **_requester(request),
    )


def named_ask_allowed(request: IntroRequest) -> bool:
    return bool(request.share_name)


def _title_parts(title: str) -> list[str]:
    """A title and its parts ("Head of Partnerships, Northwind": both, and each side of the
    comma), longest first: any of them can single a person out in a small team."""
    parts = {title.strip(), *re.split(r"\s*(?:[,|;/()–—]|\s-\s|\bat\b|@)\s*", title)}
    return sorted((p.strip() for p in parts if len(p.strip()) > 2), key=len, reverse=True)


def without_requester(text: str, request: IntroRequest, *, title: bool = True) -> str:
    """`text` with anything that names the requester (their name or any part of it, any
    @handle or mention, any email address, and unless `title` is False their title or team)
    put as the anonymous ask says it."""
    if not text:
        return text  # nothing to hide (the ask's own words are mostly left blank)
    words = labels()["anonymous"]
    text = _EMAIL.sub(words["contact"], text)
    text = _HANDLE.sub(words["person"], text)
    name = (request.requester_name or "").strip()
    parts = sorted({name, *name.split()}, key=len, reverse=True)
    titles = _title_parts(request.requester_title or "") if title else []
    folded = _folded(text)
    for part in [*titles, *parts]:
        if len(part) < 2 and part.isascii():
            continue  # an initial; a one-character name (李) is a name
        if part.isascii() and part.lower() not in folded:
            # It cannot match: no pattern compiled for it (every requester's name is new
            # to the `re` module's cache, and compiling is most of the cost).
            continue
        text, count = re.subn(
            rf"(?<!\w){re.escape(part)}(?!\w)", words["person"], text, flags=re.IGNORECASE
        )
        if count:
            folded = _folded(text)
    return text


# The only characters besides ASCII letters that an ASCII letter matches when case is
# ignored (`re.IGNORECASE`): İ and ı match i, K (Kelvin) k, ſ (long s) s.
_FOLD_TO_ASCII = str.maketrans({"İ": "i", "ı": "i", "K": "k", "ſ": "s"})


def _folded(text: str) -> str:
    """`text` such that an ASCII `part` that matches in it with case ignored is in it as
    `part.lower()`."""
    return text.translate(_FOLD_TO_ASCII).lower()


def optin_ask(request: IntroRequest) -> str:
    """The connector's first ask to the target, written to them: who asks (unnamed unless the
    requester allowed it and the connector chose to name them), the size of the ask, and
    what is in it for them, with an easy out. Unnamed, it carries no name, handle, email,
    title or team; only the words the requester chose for themselves, if any."""
    named = bool(request.named_ask and request.share_name and request.requester_name)
    reason = request.reason.strip()
    chosen = (request.anonymous_as or "").strip()
    if not named:
        reason = without_requester(reason, request)
        # Their own words may say their team ("someone on our partnerships team"), not who.
        chosen = without_requester(chosen, request, title=False)
    return render_text(
        "optin_ask.txt.j2",
        named=named,
        target_first_name=first_name(request.target_name),
        target_company=request.target_company,
        requester_name=request.requester_name or "",
        requester_first_name=first_name(request.requester_name or ""),
        requester_title=request.requester_title or "",
        anonymous_as=chosen or labels()["anonymous"]["who"],
        ask_size=ask_size(request),
        reason=reason,
    )


def outside_email(request: IntroRequest) -> str:
    """The ask the requester sends a connector outside the team: what they ask, the
    connector's out, the anonymous opt-in ask for the target, and the note for the intro."""
    reason = without_requester(request.reason.strip(), request)
    return render_text(
        "outside_email.txt.j2",
        connector_first_name=first_name(request.connector_name or ""),
        target_name=request.target_name,
        target_first_name=first_name(request.target_name),
        target_company=request.target_company,
        reason=reason if reason[-1:] in ".!?" else f"{reason}.",
        blurb=request.blurb.strip(),
        **_requester(request),
    )


def day_of(moment: datetime, today: date) -> str:
    """A day as people write it in a sentence: "3 March", with the year when not this one."""
    day = moment.date()
    return f"{day.day} {day:%B}" + (f" {day.year}" if day.year != today.year else "")


def long_date(day: date | None) -> str:
    """A day as people write it: "Monday 28 December"."""
    return f"{day:%A} {day.day} {day:%B}" if day else ""


def subject_line(request: IntroRequest) -> str:
    """A first message's subject: the ask it makes, about the target's company."""
    company = request.target_company.strip()
    return labels()["cold_subject"]["with_company" if company else "plain"].format(
        first_name=first_name(request.target_name), company=company, size=ask_size(request)
    )


def _how_known(words: str) -> str:
    """The connector's words for how they know the target, as they read after "who knows
    you": without a "who knows you" they typed too, or a closing full stop."""
    words = re.sub(r"^\s*(?:who\s+)?knows?\s+you\b", "", words.strip(), flags=re.IGNORECASE)
    return words.strip().rstrip(".").strip()


def direct_message(request: IntroRequest) -> str:
    """ "Mention my name": the note as a message the requester sends the target themselves,
    saying once who suggested it and, as far as the connector said so, that they know the
    target."""
    greeting, body = note_body(request.blurb)
    return render_text(
        "direct_message.txt.j2",
        subject=subject_line(request),
        connector_name=request.connector_name or "",
        # Only what the connector said themselves: "would they take your call?" yes or probably.
        knows_target=request.connector_closeness in ("well", "somewhat"),
        how_known=_how_known(request.how_known or ""),
        greeting=greeting,
        target_first_name=first_name(request.target_name),
        blurb=body,
        **_requester(request),
    )


# A note's sentence that speaks of an intro or a go-between: a cold message must not claim one.
_INTRO_SENTENCE = re.compile(
    r"\b(?:intro(?:duc\w*)?|put (?:us|me) in touch|suggested (?:I|we)|"
    r"thanks? for (?:connecting|passing))\b",
    re.IGNORECASE,
)


def cold_message(request: IntroRequest) -> str:
    """Going in cold: a value hypothesis as the requester's own first message to the target:
    their situation and what the requester brings (the reason, written to them), then the
    note (who they are and its one ask) without any sentence about an intro, under a subject
    that names the ask."""
    greeting, body = note_body(request.blurb)
    every = sentences(body)
    kept = [part for part in every if not _INTRO_SENTENCE.search(part)]
    if kept and len(kept) < len(every):
        body = " ".join(kept)
    reason = without_repeats(request.reason.strip(), body)
    return render_text(
        "cold_message.txt.j2",
        subject=subject_line(request),
        greeting=greeting,
        target_first_name=first_name(request.target_name),
        reason=reason,
        blurb=body,
        **_requester(request),
    )


def bump_message(request: IntroRequest) -> str:
    """The connector's short nudge to a target who went quiet after the intro: why it is
    worth answering (what is in it for them, and how small the ask is)."""
    return render_text(
        "bump_message.txt.j2",
        target_first_name=first_name(request.target_name),
        requester_name=(request.requester_name or "").strip() or labels()["anonymous"]["person"],
        connector_first_name=first_name(request.connector_name or ""),
        ask_size=ask_size(request),
        reason=after_colon(request.reason) if request.reason.strip() else "",
    )
