"""CPU per request, introbot against the same-work app, in ABBA order: `bench.run`'s first step.

For each kind of request (a submission, an Accept, `/intro`) the two apps take turns under
the same closed-loop load, introbot, same-work, same-work, introbot (`--yardstick-rounds`
rounds, ABBA repeated), so a machine that slows down slows both alike and neither always goes
first. Each round counts the requests completed (at the fake Slack) and the CPU spent:

- by the app's process: user + system time from /proc/<pid>/stat;
- by the PostgreSQL backends serving the app's connections: found by their
  application_name (`bench.common.APP_NAMES`, set through PGAPPNAME) in pg_stat_activity,
  sampled every 0.2 s, their user + system time from /proc/<pid>/stat of the postgres
  processes. Where that is not readable (another machine, another user, hidepid), the
  statements' execution time from pg_stat_statements stands in, if the extension is loaded
  (the rounds run one app at a time, so all of it is that app's); the output says which.
  PostgreSQL's shared background processes (WAL writer, checkpointer, autovacuum) are not
  counted for either app.

The ratios are introbot's milliseconds per completed request over the same-work app's, summed
over each app's rounds. With py-spy installed (`pip install -e ".[bench]"`), one more round
per app and kind is sampled after the counted ones, and that round's CPU per request is shared
out by where the samples were (`bench.side_by_side.sampled_ms`, `cpu_by_place`); the
sampler's rounds are never counted in the ratios.

With `--variants NAME[,NAME]` (bench.run passes it through), introbot patched by each
measuring variant of bench/variants.py (`python -m bench.variants NAME -- serve`; `A+B` names
one app with both patches) takes its turns in the same rounds, as one more app: the order
mirrored in each pair of passes (introbot, same-work, variant, variant, same-work, introbot,
...), on the same history and fake Slack, its connections under an application_name of its
own. For each variant and kind it reports its CPU per request (app, PostgreSQL, total), its
total ratio to the same-work app and the milliseconds it saves against plain introbot: what
the part it takes out costs. Variants are not profiled.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg

from bench import profile, seed
from bench.cells import Fake, measure_bot
from bench.common import APP_NAMES, RESULTS_DIR, Proc, memory_kb

KINDS = ("submit", "accept", "intro")
LABEL = {"submit": "submission", "accept": "Accept", "intro": "/intro"}
# CPU per request at most this many times the same-work app's (docs/performance.md).
TARGET = {"submit": 1.25, "accept": 1.25, "intro": 1.5}
TICK = os.sysconf("SC_CLK_TCK")
# The /intro ack target's load: 50 clients sending 20 requests a second in all (bench.run's
# paced cell), p99 under 50 ms.
ACK_CLIENTS, ACK_RATE = 50, 20.0
# Accept presses a second that no app reaches at the yardstick's 10 clients (the same-work app
# completes about 500): what the pools of awaiting requests are sized for.
PRESSES_PER_S_CEILING = 1_200
ACK_TARGET_MS = 50.0
RSS_TARGET_MB = 150.0


def _ticks(pid: int) -> int | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])


class Backends:
    """CPU of the PostgreSQL backends serving one application_name, while `watch` runs."""

    def __init__(self, conn: psycopg.Connection[Any], app: str) -> None:
        self.conn, self.app = conn, app
        self.first: dict[int, int] = {}  # pid: ticks when first seen
        self.last: dict[int, int] = {}
        self.known_before: set[int] = set()

    def _pids(self) -> list[int]:
        rows = self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (self.app,)
        ).fetchall()
        self.conn.execute("SELECT pg_stat_clear_snapshot()")
        return [int(row[0]) for row in rows]

    def sample(self, *, before: bool = False) -> None:
        for pid in self._pids():
            ticks = _ticks(pid)
            if ticks is None:
                continue
            if before:
                self.known_before.add(pid)
            # A backend born during the round counts from zero: its start is the app's work.
            self.first.setdefault(pid, ticks if pid in self.known_before else 0)
            self.last[pid] = ticks

    def seconds(self) -> float:
        return sum(self.last[pid] - self.first[pid] for pid in self.last) / TICK

    async def watch(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.sample()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.2)
        self.sample()


def pg_cpu_source(conn: psycopg.Connection[Any]) -> str:
    """ "proc" if the backends' /proc/<pid>/stat can be read from here, "pg_stat_statements" if
    that extension is loaded instead, "" if neither."""
    row = conn.execute("SELECT pg_backend_pid()").fetchone()
    if row is not None and _ticks(int(row[0])) is not None:
        return "proc"
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        conn.execute("SELECT 1 FROM pg_stat_statements LIMIT 1")
    except psycopg.Error:
        return ""
    return "pg_stat_statements"


def _statements_ms(conn: psycopg.Connection[Any]) -> float:
    row = conn.execute(
        "SELECT coalesce(sum(total_exec_time), 0) FROM pg_stat_statements"
        " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
    ).fetchone()
    return float(row[0]) if row else 0.0


def app_name(app: str) -> str:
    """The application_name of an app's database connections (a variant's: its own)."""
    return APP_NAMES.get(app) or f"{APP_NAMES['introbot']}-{app.replace('+', '-')}"


def seq_offset(app: str) -> int:
    """Where an app's submitters start from seq[0]: other submitters for the same-work app
    (an open ask would be refused); introbot's and its variants' rounds take fresh numbers
    from seq[0] in turn."""
    return 1_000_000 if app == "same_work" else 0


async def one_round(
    fake: Fake,
    app: str,
    proc: Proc,
    url: str,
    kind: str,
    args: Any,
    seq_start: int,
    pool_file: Path | None,
    source: str,
    profile_to: Path | None = None,
) -> dict[str, Any]:
    """One app under one kind of load for one round: completed requests and CPU."""
    with seed.connect() as conn:
        backends = Backends(conn, app_name(app))
        backends.sample(before=True)
        statements_before = _statements_ms(conn) if source == "pg_stat_statements" else 0.0
        stop = asyncio.Event()
        watcher = asyncio.create_task(backends.watch(stop))
        try:
            cell = await measure_bot(
                fake,
                proc,
                url,
                kind,
                args.yardstick_clients,
                args.duration,
                args.warmup,
                seq_start,
                pool_file,
                profile_to=profile_to,
            )
        finally:
            stop.set()
            await watcher
        if source == "proc":
            pg_s = backends.seconds()
        elif source == "pg_stat_statements":
            pg_s = (_statements_ms(conn) - statements_before) / 1000
        else:
            pg_s = 0.0
    done = max(1, int(cell["completed"]))
    return {
        "app": app,
        "kind": kind,
        "sent": cell["sent"],
        "completed": cell["completed"],
        "refused": cell["rejected_all"] + cell["failed_all"],
        "stale_presses": cell.get("stale_presses", 0),
        "done_per_s": cell["completion_rate"],
        "ack_p99_ms": cell["p99_ms"],
        "app_cpu_s": cell["cpu_s"],
        "pg_cpu_s": round(pg_s, 3),
        "pg_backends": len(backends.last),
        "app_ms": round(1000 * cell["cpu_s"] / done, 3),
        "pg_ms": round(1000 * pg_s / done, 3),
    }


def _order(rounds: int, apps: Sequence[str] = ("introbot", "same_work")) -> list[str]:
    """A B B A A B B A ... (with variants: A B C C B A A B C ...): each pass over the apps
    mirrored by the next, so none always goes first. `rounds` counts the two apps' turns,
    as without variants; every app takes rounds / 2 of them."""
    pattern = [*apps, *reversed(apps)]
    return [pattern[i % len(pattern)] for i in range(rounds * len(apps) // 2)]


def letters(order: Sequence[str], apps: Sequence[str]) -> str:
    """The order as letters: introbot A, the same-work app B, the variants C, D, ..."""
    mark = {app: chr(ord("A") + i) for i, app in enumerate(apps)}
    return "".join(mark[app] for app in order)


async def run(
    args: Any,
    fake: Fake,
    apps: dict[str, tuple[Proc, str]],
    seq: list[int],
) -> dict[str, Any]:
    """The ABBA rounds for every kind, then the profiled ones; what bench.run reports.
    `apps`: introbot, the same-work app, then any variants, in that order."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    names = list(apps)
    variants = names[2:]
    order = _order(args.yardstick_rounds, names)
    with seed.connect() as conn:
        source = pg_cpu_source(conn)
        # Awaiting requests to press Accept on, a pool per app, enough for every round at a
        # rate no app here comes near: a press on a request already accepted costs CPU and
        # completes nothing, which would count against the app whose pool ran out.
        seconds = (args.yardstick_rounds // 2 + 2) * (args.warmup + args.duration)
        presses = max(args.pool * 2, int(seconds * PRESSES_PER_S_CEILING))
        pools: dict[str, Path] = {}
        for app in apps:
            ids = seed.seed_requests(conn, presses, pool=True)
            pools[app] = RESULTS_DIR / f"pool-yardstick-{app}.json"
            pools[app].write_text(json.dumps(seed.pool_rows(conn, ids)))
        seed.finish(conn)
    print(f"yardstick: PostgreSQL backends' CPU from {source or 'nowhere (not readable)'}")
    pressed = dict.fromkeys(apps, 0)
    rounds: list[dict[str, Any]] = []
    width = max(9, *map(len, names))
    for kind in KINDS:
        # One round each first, as long and as busy as a counted one, not counted: a first
        # request of a kind may do one-off work (introbot reads the team's directory on its
        # first submission), and each pooled connection plans a statement afresh the first
        # times it runs it (psycopg prepares it on its sixth run, PostgreSQL then plans it
        # for five more before it keeps a generic plan): at the counted rounds' clients,
        # every connection they use has done that before the counting starts, as in a
        # process that has been serving for a while.
        for app in names:
            proc, url = apps[app]
            start = pressed[app] if kind == "accept" else seq[0] + seq_offset(app)
            warm = await measure_bot(
                fake, proc, url, kind, args.yardstick_clients, args.duration, 0.0, start,
                pools[app] if kind == "accept" else None,
            )  # fmt: skip
            pressed[app] += warm["sent"] if kind == "accept" else 0
            seq[0] += warm["sent"] if kind != "accept" else 0
        # Fresh planner statistics before counting, as autovacuum would have them by now
        # (the benchmark machine's PostgreSQL runs without it): the warm-up filled tables the
        # seed left empty (a fresh process stores its workspace's profiles on its first
        # submissions), and a plan made for an empty table scans all of it once it is not.
        with seed.connect() as conn:
            conn.execute("ANALYZE")
        for app in order:
            proc, url = apps[app]
            start = pressed[app] if kind == "accept" else seq[0] + seq_offset(app)
            found = await one_round(
                fake, app, proc, url, kind, args, start,
                pools[app] if kind == "accept" else None, source,
            )  # fmt: skip
            if kind == "accept":
                pressed[app] += found["sent"]
                if found["stale_presses"]:
                    raise SystemExit(
                        f"yardstick: {app}'s pool of awaiting requests ran out after"
                        f" {pressed[app]} presses; its Accept rounds would count presses"
                        " that complete nothing"
                    )
            else:
                seq[0] += found["sent"]
            print(
                f"yardstick {LABEL[kind]:<10} {app:<{width}} {found['done_per_s']:7.1f} done/s"
                f"  app {found['app_ms']:6.2f} ms  postgres {found['pg_ms']:6.2f} ms"
                f"  per request",
                flush=True,
            )
            rounds.append(found)
    result: dict[str, Any] = {
        "clients": args.yardstick_clients,
        "rounds_per_app": args.yardstick_rounds // 2,
        "order": letters(order, names),
        "pg_cpu_source": source,
        "rounds": rounds,
        "summary": summarise(rounds, variants),
    }
    if variants:
        result["variants"] = variants
    # The other targets, on introbot alone: /intro's ack at 50 clients, and peak RSS.
    intro = await measure_bot(
        fake, *apps["introbot"], "intro", ACK_CLIENTS, args.duration, args.warmup, seq[0], None,
        rate=ACK_RATE,
    )  # fmt: skip
    seq[0] += intro["sent"]
    result["intro_ack_at_50"] = {k: intro[k] for k in ("p50_ms", "p99_ms", "max_ms", "throughput")}
    print(f"yardstick: /intro ack p99 at {ACK_CLIENTS}@{ACK_RATE:.0f} {intro['p99_ms']} ms")
    profiled = {app: apps[app] for app in ("introbot", "same_work")}
    if args.profile and profile.available():
        result["profiles"] = await profiles(args, fake, profiled, seq, pools, pressed, source)
    elif args.profile:
        result["profiles_skipped"] = "py-spy is not installed (pip install -e '.[bench]')"
    result["introbot_memory_kb"] = memory_kb(apps["introbot"][0].pid)
    result["same_work_memory_kb"] = memory_kb(apps["same_work"][0].pid)
    return result


def summarise(rounds: list[dict[str, Any]], variants: Sequence[str] = ()) -> dict[str, Any]:
    """Per kind and app: ms per completed request over all its rounds; the ratios; and for
    each variant, its total ratio and what it saves against introbot."""
    found: dict[str, Any] = {}
    for kind in KINDS:
        per: dict[str, dict[str, float]] = {}
        for app in ("introbot", "same_work", *variants):
            mine = [r for r in rounds if r["kind"] == kind and r["app"] == app]
            done = sum(int(r["completed"]) for r in mine)
            if not done:
                continue
            app_s = sum(float(r["app_cpu_s"]) for r in mine)
            pg_s = sum(float(r["pg_cpu_s"]) for r in mine)
            per[app] = {
                "completed": done,
                "app_ms": round(1000 * app_s / done, 3),
                "pg_ms": round(1000 * pg_s / done, 3),
                "total_ms": round(1000 * (app_s + pg_s) / done, 3),
                "done_per_s": round(sum(float(r["done_per_s"]) for r in mine) / len(mine), 1),
            }
        entry: dict[str, Any] = {"apps": per, "target": TARGET[kind]}
        ours, same = per.get("introbot"), per.get("same_work")
        if ours is not None and same is not None:
            for part in ("app_ms", "pg_ms", "total_ms"):
                entry[part.replace("_ms", "_ratio")] = (
                    round(ours[part] / same[part], 2) if same[part] else None
                )
        weighed: dict[str, Any] = {}
        for variant in variants:
            mine_ = per.get(variant)
            if mine_ is None:
                continue
            weighed[variant] = {
                "total_ratio": round(mine_["total_ms"] / same["total_ms"], 2)
                if same and same["total_ms"]
                else None,
                # What the part the variant takes out costs introbot per request.
                "saves_ms": {
                    part: round(ours[part] - mine_[part], 3)
                    for part in ("app_ms", "pg_ms", "total_ms")
                }
                if ours
                else None,
            }
            if ours and same:
                # The share of introbot's distance to the target the part accounts for.
                gap = ours["total_ms"] - TARGET[kind] * same["total_ms"]
                weighed[variant]["of_gap"] = (
                    round((ours["total_ms"] - mine_["total_ms"]) / gap, 2) if gap > 0 else None
                )
        if weighed:
            entry["variants"] = weighed
        found[kind] = entry
    return found


async def profiles(
    args: Any,
    fake: Fake,
    apps: dict[str, tuple[Proc, str]],
    seq: list[int],
    pools: dict[str, Path],
    pressed: dict[str, int],
    source: str,
) -> dict[str, Any]:
    """One more round per app and kind under py-spy: ms per request by where they went."""
    from bench.side_by_side import sampled_ms

    found: dict[str, Any] = {}
    for kind in KINDS:
        for app, (proc, url) in apps.items():
            raw = RESULTS_DIR / f"yardstick-profile-{kind}-{app}.txt"
            raw.unlink(missing_ok=True)
            start = pressed[app] if kind == "accept" else seq[0] + seq_offset(app)
            cell = await one_round(
                fake, app, proc, url, kind, args, start,
                pools[app] if kind == "accept" else None, source, profile_to=raw,
            )  # fmt: skip
            if kind == "accept":
                pressed[app] += cell["sent"]
            else:
                seq[0] += cell["sent"]
            if not cell["completed"]:
                # Nothing to share the CPU out over; say so rather than table the whole
                # round's CPU as one request's.
                found.setdefault(kind, {})[app] = {"completed": 0, "refused": cell["refused"]}
            elif raw.exists():
                sampled = sampled_ms(raw, int(cell["completed"]), profile.RATE)
                found.setdefault(kind, {})[app] = {
                    "completed": cell["completed"],
                    "app_ms": cell["app_ms"],
                    "sampled_ms": sampled,
                    "cpu_ms": cpu_by_place(sampled, float(cell["app_ms"])),
                    "summary": profile.summarise(raw, top=15),
                }
    return found


def cpu_by_place(sampled: dict[str, float], app_ms: float) -> dict[str, float]:
    """The round's measured CPU per request shared out as the samples were. py-spy counts a
    thread that is ready but waiting for a core as busy, so on a loaded machine its samples
    add up to more than the CPU used; their shares are what holds."""
    total = sampled.get("sampled, in all", 0.0)
    if not total:
        return {}
    return {
        place: round(app_ms * ms / total, 2)
        for place, ms in sampled.items()
        if place != "sampled, in all"
    }


def table(result: dict[str, Any]) -> list[str]:
    """The ratios, as markdown."""
    source = result.get("pg_cpu_source") or "not measured"
    lines = [
        f"CPU ms per completed request at {result['clients']} clients, "
        f"{result['rounds_per_app']} rounds per app in {result['order']} order; "
        f"PostgreSQL's backends from {source}.",
        "",
        "| request | introbot app / postgres / total | same-work app / postgres / total "
        "| app ratio | postgres ratio | **total ratio** | target |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, entry in result["summary"].items():
        apps = entry["apps"]
        if len(apps) < 2:
            continue
        ours, same = apps["introbot"], apps["same_work"]

        def three(side: dict[str, float]) -> str:
            return f"{side['app_ms']:.2f} / {side['pg_ms']:.2f} / {side['total_ms']:.2f}"

        def ratio(value: float | None) -> str:
            return f"{value:.2f}" if value is not None else "n/a"

        lines.append(
            f"| {LABEL[kind]} | {three(ours)} | {three(same)} | {ratio(entry['app_ratio'])} "
            f"| {ratio(entry['pg_ratio'])} | **{ratio(entry['total_ratio'])}** "
            f"| ≤ {entry['target']} |"
        )
    lines += variant_lines(result)
    ack = result.get("intro_ack_at_50")
    if ack:
        lines += [
            "",
            f"introbot's /intro ack at {ACK_CLIENTS} clients sending {ACK_RATE:.0f} requests/s"
            f" in all: p50 {ack['p50_ms']:.1f} ms, "
            f"p99 **{ack['p99_ms']:.1f} ms** (target under {ACK_TARGET_MS:.0f} ms).",
        ]
    peak = result.get("introbot_memory_kb", {}).get("VmHWM")
    if peak:
        same = result.get("same_work_memory_kb", {}).get("VmHWM", 0)
        lines.append(
            f"Peak RSS: introbot **{peak / 1024:.0f} MB** (target under {RSS_TARGET_MB:.0f} MB),"
            f" same-work {same / 1024:.0f} MB."
        )
    return lines


def variant_lines(result: dict[str, Any]) -> list[str]:
    """What each variant saves against introbot, per kind, as markdown (none without)."""
    variants = result.get("variants") or []
    if not variants:
        return []

    def share(weighed: dict[str, Any]) -> str:
        if "of_gap" not in weighed:
            return "n/a"
        value = weighed["of_gap"]
        return f"{100 * value:.0f} %" if value is not None else "target met"

    lines = [
        "",
        "introbot with a part taken out (bench/variants.py), in the same rounds: CPU ms per "
        "completed request, its total ratio to the same-work app, and the ms it saves against "
        "introbot (what the part costs), also as a share of introbot's ms above its target.",
        "",
        "| request | variant | app / postgres / total | total ratio "
        "| saves app / postgres / **total** | of the gap to the target |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for kind, entry in result["summary"].items():
        for variant in variants:
            side = entry["apps"].get(variant)
            weighed = entry.get("variants", {}).get(variant)
            if side is None or weighed is None:
                continue
            ratio = weighed["total_ratio"]
            saves = weighed["saves_ms"] or {}
            lines.append(
                f"| {LABEL[kind]} | {variant} "
                f"| {side['app_ms']:.2f} / {side['pg_ms']:.2f} / {side['total_ms']:.2f} "
                f"| {f'{ratio:.2f}' if ratio is not None else 'n/a'} "
                f"| {saves.get('app_ms', 0):.2f} / {saves.get('pg_ms', 0):.2f} / "
                f"**{saves.get('total_ms', 0):.2f}** "
                f"| {share(weighed)} |"
            )
    return lines


def profile_lines(result: dict[str, Any]) -> list[str]:
    """Where the sampled CPU went, ms per request, both apps side by side per kind."""
    found = result.get("profiles") or {}
    if not found:
        skipped = result.get("profiles_skipped")
        return [f"No profiles: {skipped}.", ""] if skipped else []
    lines = [
        "py-spy, one more round per app and kind (not counted above): the app's CPU ms per "
        "request in that round, shared out by where its samples were.",
        "",
    ]
    for kind, by_app in found.items():
        ours, same = by_app.get("introbot", {}), by_app.get("same_work", {})
        idle = [app for app, entry in by_app.items() if entry.get("completed") == 0]
        if idle:
            lines += [
                f"{LABEL[kind]}: no profile, the round completed nothing for "
                + ", ".join(f"{app} ({by_app[app]['refused']} refused)" for app in idle)
                + ".",
                "",
            ]
            continue
        places = sorted(
            {p for entry in by_app.values() for p in entry.get("cpu_ms", {})},
            key=lambda p: -ours.get("cpu_ms", {}).get(p, 0.0),
        )
        lines += [
            f"{LABEL[kind]} (introbot {ours.get('app_ms', 0):.2f} ms, "
            f"same-work {same.get('app_ms', 0):.2f} ms):",
            "",
            "| where | introbot | same-work |",
            "|---|---:|---:|",
        ]
        for place in places:
            a = ours.get("cpu_ms", {}).get(place, 0.0)
            b = same.get("cpu_ms", {}).get(place, 0.0)
            lines.append(f"| {place} | {a:.2f} | {b:.2f} |")
        lines.append("")
    return lines
