"""introbot's own Python before an ack, old code against new, A B B A in one process.

`python -m bench.ack_python --old DIR KIND` (review_draft, matching, review_ask, intro_render,
submit_cards, accept_cards) imports the bot's modules twice, from `DIR` (a checkout of the old
code, e.g. made with `git worktree add /tmp/old main`) and from this checkout, and times (CPU,
`time.process_time`) the same work on each in `--rounds` rounds of A B B A, on the benchmark's
inputs: the submissions `bench.loadgen.Requests.body` builds, `/intro` with a name, the cards
a submission posts and the three messages an Accept sends (`submit_cards`, `accept_cards`:
requests shaped as the submissions, checked to render alike on both sides). `review_ask` reads
its rows from the benchmark's database once (`BENCH_DATABASE_URL`, seeded as bench/README.md
says) and serves them from memory to both, after checking both review alike. Prints each
side's CPU per call and new/old.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs

HERE = str(Path(__file__).resolve().parent.parent)
MODULES = (
    "bot.intro.validation",
    "bot.intro.matching",
    "bot.intro.people",
    "bot.intro.directory",
    "bot.intro.clock",
    "bot.rendering.messages",
    "bot.intro.workflow.results",
    "storage.models",
    "handlers.request_form",
    "handlers.forms",
    "storage.db",
    "bench.loadgen",
    "bench.common",
)
SUBMISSIONS = 200


def load(root: str) -> dict[str, ModuleType]:
    """The modules as `root` has them (each root's own copy: sys.modules is cleared)."""
    for name in [
        n for n in sys.modules if n.split(".")[0] in ("bot", "handlers", "storage", "bench")
    ]:
        del sys.modules[name]
    sys.path.insert(0, root)
    try:
        mods = {name: importlib.import_module(name) for name in MODULES}
    finally:
        sys.path.remove(root)
    assert str(mods["bot.intro.matching"].__file__).startswith(root)
    return mods


def submissions(mods: dict[str, ModuleType]) -> list[tuple[dict[str, Any], str]]:
    builder = mods["bench.loadgen"].Requests("submit", [], "")
    out = []
    for i in range(SUBMISSIONS):
        payload = json.loads(parse_qs(builder.body(i))["payload"][0])
        out.append((payload["view"], payload["user"]["id"]))
    return out


def review_draft(mods: dict[str, ModuleType]) -> tuple[Callable[[], object], int]:
    teammate = mods["bot.intro.people"].Teammate
    drafts = []
    for view, user in submissions(mods):
        draft = mods["handlers.request_form"].draft_from(view, user)
        people = {
            "requester": teammate(user_id=user, name="Riya Rep1"),
            "connector": teammate(user_id="UC1", name="Con Nector"),
        }
        drafts.append(replace(draft, **people))
    review = mods["bot.intro.validation"].review_draft

    def work() -> None:
        for draft in drafts:
            review(draft)

    return work, len(drafts)


def matching(mods: dict[str, ModuleType]) -> tuple[Callable[[], object], int]:
    common, found = mods["bench.common"], mods["bot.intro.matching"]
    people = [(common.submitted_name(i), common.company(i)) for i in range(300)]

    def work() -> None:
        for name, firm in people:
            query = found.parse_person(name, firm)
            found.name_key(query.name_key)
            found.company_key(firm)
            found.parse_person(name)

    return work, len(people)


def intro_render(mods: dict[str, ModuleType]) -> tuple[Callable[[], object], int]:
    common, messages = mods["bench.common"], mods["bot.rendering.messages"]
    names = [common.target_name(i) for i in range(300)]

    def work() -> None:
        for name in names:
            prefill = messages.ModalPrefill(target_name=name)
            form = messages.intro_form(prefill, messages.ModalContext(), None)
            form.with_findings()
            messages.intro_with_findings(form, prefill, searched=True)

    return work, len(names)


def card_requests(mods: dict[str, ModuleType], status: str) -> list[Any]:
    """Requests as the benchmark's submissions make them (every column read, as from a row),
    in `status`; a few named, with a title, or with a history between the two."""
    common, models, loadgen = mods["bench.common"], mods["storage.models"], mods["bench.loadgen"]
    columns = {column.key: None for column in models.IntroRequest.__table__.c}
    made = []
    for i in range(SUBMISSIONS):
        requester, name, firm = i * 13 + 1, common.submitted_name(i), common.company(i)
        values = columns | {
            "id": 1_000 + i,
            "team_id": common.TEAM_ID,
            "requester_id": common.user_id(requester),
            "requester_name": common.user_name(requester),
            "connector_id": common.user_id(requester + 1 + i % 97),
            "connector_name": common.user_name(requester + 1 + i % 97),
            "target_name": name,
            "target_company": firm,
            "reason": (
                f"{firm} is opening EU warehouses and could cut customs delays by a third;"
                f" they worked with {name} before."
            ),
            "blurb": loadgen.blurb(name.split()[0], common.user_name(requester), firm),
            "closeness": "know_well",
            "status": status,
            "share_name": i % 4 == 0,
            "named_ask": i % 8 == 0,
            "requester_title": "Head of Partnerships" if i % 3 == 0 else "",
            "requester_email": "",
            "connector_email": "",
            "anonymous_as": "",
            "ask_size": "call_15",
            "way_in": False,
            "connector_outside": False,
            "name_first_connector": False,
        }
        made.append(models.built(models.IntroRequest, **values))
    return made


def _rendered(message: Any) -> tuple[str, str]:
    # What goes to slack_sdk: the blocks' JSON text, as kept from the render or (code that
    # keeps dicts) encoded from them.
    kept = getattr(message, "blocks_json", None)
    return message.text, kept if kept is not None else json.dumps(message.blocks)


def submit_cards(mods: dict[str, ModuleType]) -> tuple[Callable[[], object], int]:
    """A submission's two cards: the connector's (with their history with the requester)
    and the requester's."""
    messages, results = mods["bot.rendering.messages"], mods["bot.intro.workflow.results"]
    requests = card_requests(mods, "awaiting_connector")
    histories = [results.History() if i % 5 else results.History(2, 1, 1) for i in range(200)]

    def work() -> list[tuple[str, str]]:
        out = []
        for request, history in zip(requests, histories, strict=True):
            out.append(_rendered(messages.connector_card(request, None, history=history)))
            out.append(_rendered(messages.requester_card(request, [])))
        return out

    return work, len(requests)


def accept_cards(mods: dict[str, ModuleType]) -> tuple[Callable[[], object], int]:
    """An Accept's three messages: both cards as they are updated, and the requester's
    notice."""
    messages = mods["bot.rendering.messages"]
    requests = card_requests(mods, "checking_with_target")

    def work() -> list[tuple[str, str]]:
        out = []
        for request in requests:
            out.append(_rendered(messages.connector_card(request, None)))
            out.append(_rendered(messages.requester_card(request, [])))
            out.append(_rendered(messages.notice(request, "accept", {})))
        return out

    return work, len(requests)


def review_ask_rows(mods: dict[str, ModuleType]) -> list[tuple[tuple[str, ...], list[Any]]]:
    """Each benchmark submission's review arguments and the rows its statement reads."""
    db, common = mods["storage.db"], mods["bench.common"]
    clock = mods["bot.intro.clock"].SystemClock()

    async def read() -> list[tuple[tuple[str, ...], list[Any]]]:
        engine = db.create_engine_for(common.DATABASE_URL)
        sessions = db.make_sessionmaker(engine)
        directory = mods["bot.intro.directory"].Directory(sessions, clock)
        cases = []
        for view, user in submissions(mods):
            draft = mods["handlers.request_form"].draft_from(view, user)
            connector = str(mods["handlers.forms"].submitted_values(view).get("connector"))
            args = (common.TEAM_ID, user, connector, draft.target_name, draft.target_company)
            now = clock.now()
            rows = await directory._review_rows(
                common.TEAM_ID,
                connector,
                draft.target_name,
                draft.target_company,
                now,
                profile_ids=[user, connector],
                search_next=True,
            )
            cases.append((args, rows))
        await engine.dispose()
        return cases

    return asyncio.run(read())


def review_ask(mods: dict[str, ModuleType], cases: list[Any]) -> tuple[Callable[[], object], int]:
    """`Directory.review_ask` with its statement's rows served from memory."""
    module, loop = mods["bot.intro.directory"], asyncio.new_event_loop()
    serving: dict[str, list[Any]] = {}

    class Result:
        def all(self) -> list[Any]:
            return serving["rows"]

    class Connection:
        async def execute(self, *_: object) -> Result:
            return Result()

    @contextlib.asynccontextmanager
    async def autocommit(_sessions: object) -> Any:
        yield Connection()

    module.autocommit = autocommit  # this copy's only: the other side has its own module
    module.one_statement = autocommit  # the review's statement now runs on a lent connection

    async def fetch_all(connection: Connection, statement: object, params: object) -> list[Any]:
        return (await connection.execute(statement, params)).all()

    module.fetch_all = fetch_all
    directory = module.Directory(None, mods["bot.intro.clock"].SystemClock())

    async def reviews() -> list[str]:
        found = []
        for args, rows in cases:
            serving["rows"] = rows
            review = await directory.review_ask(*args, profile_ids=[args[1], args[2]])
            found.append(
                repr(
                    (
                        review.mine,
                        review.held_by_others,
                        review.pacing,
                        review.load,
                        review.next_best,
                        review.account_owner,
                        sorted(review.profiles),
                        review.target_declined,
                    )
                )
            )
        return found

    return (lambda: loop.run_until_complete(reviews())), len(cases)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "kind",
        choices=(
            "review_draft",
            "matching",
            "review_ask",
            "intro_render",
            "submit_cards",
            "accept_cards",
        ),
    )
    parser.add_argument("--old", required=True, help="a checkout of the old code")
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    builders = {
        "review_draft": review_draft,
        "matching": matching,
        "intro_render": intro_render,
        "submit_cards": submit_cards,
        "accept_cards": accept_cards,
    }
    build = builders.get(args.kind)
    if build is None:  # review_ask: the rows read once, by this checkout's statement
        cases = review_ask_rows(load(HERE))
        build = lambda mods: review_ask(mods, cases)  # noqa: E731
    old, calls = build(load(str(Path(args.old).resolve())))
    new, _ = build(load(HERE))
    if args.kind == "review_ask":
        assert old() == new(), f"the old and the new code differ in {args.kind}"
    elif args.kind in ("submit_cards", "accept_cards"):
        read = lambda sent: [(text, json.loads(blocks)) for text, blocks in sent]  # noqa: E731
        assert read(old()) == read(new()), f"the old and the new code differ in {args.kind}"
    old(), new()  # warm

    def timed(work: Callable[[], object]) -> float:
        start = time.process_time()
        work()
        return time.process_time() - start

    spent = {"old": 0.0, "new": 0.0}
    for _ in range(args.rounds):
        for side, work in (("old", old), ("new", new), ("new", new), ("old", old)):
            spent[side] += timed(work)
    per_call = {side: seconds / (2 * args.rounds * calls) * 1e6 for side, seconds in spent.items()}
    print(
        f"{args.kind}: old {per_call['old']:.1f} µs, new {per_call['new']:.1f} µs per call; "
        f"new/old = {spent['new'] / spent['old']:.3f} ({args.rounds} rounds A B B A)"
    )


if __name__ == "__main__":
    main()
