"""The load generator: N concurrent clients posting signed Slack requests for a bounded time.

Its own process, so it never shares an event loop with the server it measures. Each client
sends one request, waits for the answer (the ack), and sends the next: a closed loop, so at
50 clients there are exactly 50 requests in flight. Bodies are built and signed per request
with `bot.standin.payloads` and `SlackSender.signed_headers`, as Slack would send them.

`python -m bench.loadgen --url URL --scenario intro|submit|accept --concurrency N
 --duration S [--warmup S] [--max-requests N] [--seq-start N] [--pool FILE]`

Prints one JSON line: counts, throughput and ack latency percentiles (ms).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any
from urllib.parse import urlencode

import aiohttp

from bench.common import (
    SIGNING_SECRET,
    company,
    submitted_name,
    target_name,
    user_id,
    user_name,
)
from bot.rendering import messages
from bot.standin import payloads
from bot.standin.payloads import SlackSender

FORM = "application/x-www-form-urlencoded"


def blurb(first: str, requester: str, firm: str) -> str:
    return (
        f"Hi {first}, I'm {requester}, I lead partnerships at Northwind. We help teams like "
        f"{firm} cut customs delays by a third, and I think your expansion is where it pays off "
        "most. Would you be open to a 20-minute call next week?"
    )


class Requests:
    """Builds the i-th request body of a scenario; every i is a different request."""

    def __init__(self, scenario: str, pool: list[list[Any]], intro_text: str) -> None:
        self.scenario = scenario
        self.pool = pool
        self.intro_text = intro_text
        self.signer = SlackSender("", SIGNING_SECRET)
        self.stale = 0
        if scenario == "submit":
            view = messages.intro_modal(messages.ModalPrefill(), messages.ModalContext())
            self.view = {**view, "hash": "bench"}

    def body(self, i: int) -> str:
        if self.scenario == "intro":
            user = user_id(i)
            # Issue time rides in the trigger id: the fake enforces Slack's 3 s from it.
            trigger = f"bench.{i}.{time.monotonic():.6f}"
            text = target_name(i) if self.intro_text == "name" else ""
            return urlencode(payloads.slash_command(user, text, trigger))
        if self.scenario == "submit":
            requester = i * 13 + 1
            connector = requester + 1 + i % 97
            name = submitted_name(i)
            firm = company(i)
            values = {
                "connector": user_id(connector),
                "target_name": name,
                "target_company": firm,
                # A reason and a note the form's coaching lets through on the first submit.
                "reason": (
                    f"{firm} is opening EU warehouses and could cut customs delays by a third;"
                    f" they worked with {name} before."
                ),
                "blurb": blurb(name.split()[0], user_name(requester), firm),
                "closeness": "know_well",
            }
            # Each submission is its own form: the bot keeps one request per form id.
            form = {**self.view, "id": f"VBENCHFORM{i}"}
            payload = payloads.view_submission(user_id(requester), form, values)
            return urlencode({"payload": json.dumps(payload)})
        # accept: press Accept on a distinct awaiting request while the pool lasts.
        if i >= len(self.pool):
            self.stale += 1
        request_id, connector_id, channel, ts = self.pool[i % len(self.pool)]
        payload = payloads.block_action(
            connector_id,
            "intro_accept",
            str(request_id),
            f"bench.{i}.{time.monotonic():.6f}",
            channel_id=channel,
            message_ts=ts,
        )
        return urlencode({"payload": json.dumps(payload)})


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(q / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    pool: list[list[Any]] = []
    if args.pool:
        with open(args.pool) as handle:
            pool = json.load(handle)
    builder = Requests(args.scenario, pool, args.intro_text)
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    # Submissions answered with the form again, measured: field errors (validation said no)
    # or a warning to read first (the person said no lately); the bot acts on neither.
    rejected = 0
    rejected_all = 0  # the same, warm-up included: what the bot will not act on
    failed_all = 0  # answers other than 200, warm-up included
    next_seq = args.seq_start
    sent = 0
    start = time.monotonic()
    measure_from = start + args.warmup
    end = measure_from + args.duration
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=10)

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal next_seq, sent, rejected, rejected_all, failed_all
        while time.monotonic() < end and sent < args.max_requests:
            i = next_seq
            if args.rate:
                # Paced: the n-th request of the cell is due at start + n / rate; a client
                # that is behind sends at once (at most `concurrency` are ever in flight).
                slot = start + sent / args.rate
                if slot >= end:
                    break
                next_seq += 1
                sent += 1
                await asyncio.sleep(max(0.0, slot - time.monotonic()))
            else:
                next_seq += 1
                sent += 1
            body = builder.body(i)
            headers = builder.signer.signed_headers(body, FORM)
            began = time.monotonic()
            try:
                async with session.post(args.url, data=body, headers=headers) as response:
                    text = await response.text()
                    key = str(response.status)
            except (aiohttp.ClientError, TimeoutError) as exc:
                key, text = type(exc).__name__, ""
            done = time.monotonic()
            failed_all += key != "200"
            answered_with_form = '"response_action"' in text
            rejected_all += answered_with_form
            if began >= measure_from and done <= end:
                latencies.append((done - began) * 1000)
                statuses[key] = statuses.get(key, 0) + 1
                rejected += answered_with_form

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(client(session) for _ in range(args.concurrency)))
    window = min(time.monotonic(), end) - measure_from
    latencies.sort()
    return {
        "scenario": args.scenario,
        "concurrency": args.concurrency,
        "rate": args.rate,
        "sent": sent,
        "seq_start": args.seq_start,
        "stale_presses": builder.stale,
        "measured": len(latencies),
        "statuses": statuses,
        "rejected": rejected,
        "rejected_all": rejected_all,
        "failed_all": failed_all,
        "window_s": round(window, 3),
        "throughput": round(len(latencies) / window, 1) if window > 0 else 0.0,
        "p50_ms": round(percentile(latencies, 50), 2),
        "p90_ms": round(percentile(latencies, 90), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "max_ms": round(latencies[-1], 2) if latencies else 0.0,
        "mean_ms": round(sum(latencies) / len(latencies), 2) if latencies else 0.0,
        "started_at": start,
        "ended_at": time.monotonic(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--scenario", choices=("intro", "submit", "accept"), required=True)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds first")
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument(
        "--rate", type=float, default=0.0, help="requests/s in all (0: as fast as answered)"
    )
    parser.add_argument("--seq-start", type=int, default=0)
    parser.add_argument("--pool", help="JSON [[request_id, connector_id, channel, ts], ...]")
    parser.add_argument("--intro-text", choices=("name", "empty"), default="name")
    args = parser.parse_args()
    if args.scenario == "accept" and not args.pool:
        parser.error("--pool is required for accept")
    print(json.dumps(asyncio.run(run(args))), flush=True)


if __name__ == "__main__":
    main()
