"""`introbot serve` with a part patched in or taken out, to weigh it against the code as is.

A variant is a function that patches the bot in-process before it starts:

`python -m bench.variants NAME[,NAME...] -- serve --host 127.0.0.1 --port PORT`

Two kinds live here:

- Measuring variants take a part of introbot out, so that what the part costs is measured,
  not guessed from a profile's samples: `bench.run --yardstick-only --variants NAME[,NAME]`
  runs each as one more app in the yardstick's rounds (bench/yardstick.py), beside introbot
  and the same-work app, and reports the milliseconds per request it saves. Each keeps every
  request succeeding (the same Slack calls, the same rows), so the counts stay comparable.
  They stay while the ledger in docs/performance.md quotes them. They are:

  - `skip_review`: a submission's review before the ack (`Directory.review_ask`: the
    connector's loads and limits, the person's open asks and noes, the company's spellings,
    the account owner, the connector's tie) finds nothing and reads none of it, so the
    submission goes straight to its write. The stored profiles the review reads with it, for
    people this process does not remember, are still read (in one statement of their own),
    so the people are known as before and no Slack call is added: what it saves is the
    review's round trip, its PostgreSQL CPU and its Python.
  - `rendered_once`: the cards and notices the dispatcher sends (`Reminders.card`,
    `messages.notice`) are rendered for real the first time per kind and state, and that
    Message is sent again for every later request of the same kind and state: the calls
    to Slack carry payloads of the same size, without the rendering's CPU. On the
    yardstick's requests `Reminders.card` reads nothing (a new ask's card gets its tie and
    history from the statement that wrote it; the cards refreshed after an Accept have no
    tie or history to read), so what it saves is rendering alone.

- A change under study, patched in: `bench.side_by_side --variant NAME` runs it against the
  plain bot in turn, `bench.run --after-variant NAME` in a phase of its own after the main
  cells. Such a variant goes once its change is merged or dropped, since it patches the code
  as it stood when it was written; none is open now.

Every patch goes through `swap`, which fails at once when what it patches no longer exists,
and tests/bench checks each variant's seams: a rename fails there instead of silently
measuring nothing.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.intro.directory import AskReview, Directory
    from bot.rendering.messages import Message


# What each variant replaces: (module, attribute path in it). tests/bench resolves each.
SEAMS: dict[str, tuple[tuple[str, str], ...]] = {
    "skip_review": (("bot.intro.directory", "Directory.review_ask"),),
    "rendered_once": (
        ("bot.delivery.reminders", "Reminders.card"),
        ("bot.rendering.messages", "notice"),
    ),
}

# (owner, attribute, what it was) for each swap made in this process, for `undo`.
_SWAPPED: list[tuple[Any, str, Any]] = []


def resolve(module: str, path: str) -> tuple[Any, str, Any]:
    """The object holding `path`'s last part, that part's name and its value; SystemExit
    naming the seam when it is gone."""
    owner: Any = importlib.import_module(module)
    *parents, name = path.split(".")
    try:
        for part in parents:
            owner = getattr(owner, part)
        return owner, name, getattr(owner, name)
    except AttributeError:
        raise SystemExit(
            f"bench.variants: {module}.{path} no longer exists; the variant that patches it"
            " must follow the code"
        ) from None


def swap(module: str, path: str, make: Callable[[Any], Any]) -> None:
    """Replace `module.path` by `make(original)`."""
    owner, name, original = resolve(module, path)
    _SWAPPED.append((owner, name, original))
    setattr(owner, name, make(original))


def undo() -> None:
    """Put back everything `swap` replaced in this process (for tests)."""
    while _SWAPPED:
        owner, name, original = _SWAPPED.pop()
        setattr(owner, name, original)


def skip_review() -> None:
    from bot.intro.directory import AskReview
    from bot.intro.profiles import Profiles

    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        async def review_nothing(
            self: Directory, team_id: str, *_: Any, profile_ids: Sequence[str] = (), **__: Any
        ) -> AskReview:
            # Takes review_ask's arguments, reads none but the profiles the real review reads
            # with it: without them the people would be asked of Slack, work the plain bot
            # does not do.
            profiles = (
                await Profiles(self._sessions, self._clock).known(team_id, profile_ids)
                if profile_ids
                else {}
            )
            return AskReview(profiles=profiles)

        review_nothing.__wrapped__ = original  # type: ignore[attr-defined]
        return review_nothing

    swap(*SEAMS["skip_review"][0], make)


def _shape(value: Any) -> Any:
    """What of an argument picks a card's or notice's template and its state: a request's
    status, a kind's or an event's name, which optional parts are there; never the names,
    notes or ids in it, so that every later request of the kind finds the first's."""
    from storage.models import IntroRequest

    if isinstance(value, IntroRequest):
        return (str(value.status), value.connector_outside, value.way_in)
    if isinstance(value, str):  # a MessageKind, or a notice's event
        return str(value)
    if isinstance(value, dict):
        return tuple(sorted((str(key), bool(item)) for key, item in value.items()))
    if value is None or isinstance(value, bool):
        return value
    return bool(value)


def _key(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    return (*map(_shape, args), *sorted((name, _shape(v)) for name, v in kwargs.items()))


def rendered_once() -> None:
    def card_once(original: Callable[..., Any]) -> Callable[..., Any]:
        kept: dict[tuple[Any, ...], Message] = {}

        async def card(self: Any, *args: Any, **kwargs: Any) -> Message:
            key = _key(args, kwargs)
            if key not in kept:
                kept[key] = await original(self, *args, **kwargs)
            return kept[key]

        card.__wrapped__ = original  # type: ignore[attr-defined]
        return card

    def notice_once(original: Callable[..., Any]) -> Callable[..., Any]:
        kept: dict[tuple[Any, ...], Message] = {}

        def notice(*args: Any, **kwargs: Any) -> Message:
            key = _key(args, kwargs)
            if key not in kept:
                kept[key] = original(*args, **kwargs)
            return kept[key]

        notice.__wrapped__ = original  # type: ignore[attr-defined]
        return notice

    card_seam, notice_seam = SEAMS["rendered_once"]
    swap(*card_seam, card_once)
    swap(*notice_seam, notice_once)


VARIANTS: dict[str, Callable[[], None]] = {
    "skip_review": skip_review,
    "rendered_once": rendered_once,
}


def patches(names: str) -> list[Callable[[], None]]:
    """The patches for comma-separated variant names ("" and "none" name none)."""
    wanted = [name for name in names.split(",") if name and name != "none"]
    unknown = [name for name in wanted if name not in VARIANTS]
    if unknown:
        known = ", ".join(sorted(VARIANTS)) or "none at present"
        raise SystemExit(f"unknown variant {', '.join(unknown)}; bench/variants.py has: {known}")
    return [VARIANTS[name] for name in wanted]


def main() -> int:
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    for patch in patches(",".join(argv[:split])):
        patch()
    from bot.wiring.cli import main as introbot

    return introbot(argv[split + 1 :])


if __name__ == "__main__":
    raise SystemExit(main())
