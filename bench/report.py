"""Tables from a results dict: one line per cell while running, markdown at the end."""

from __future__ import annotations

from typing import Any

LABEL = {"intro": "/intro", "submit": "submission", "accept": "Accept press"}


def clients(cell: dict[str, Any]) -> str:
    rate = cell.get("rate") or 0
    return f"{cell['concurrency']}" + (f" at {rate:g}/s" if rate else "")


def cell_line(cell: dict[str, Any]) -> str:
    bare, ours = cell["bare"], cell["introbot"]
    return (
        f"{cell['history']:>9,} {LABEL[cell['scenario']]:<13} c={clients(cell):<10}"
        f" bare {bare['throughput']:>7.1f}/s p50 {bare['p50_ms']:>6.1f} p99 {bare['p99_ms']:>6.1f}"
        f" | introbot {ours['throughput']:>7.1f}/s p50 {ours['p50_ms']:>6.1f}"
        f" p99 {ours['p99_ms']:>6.1f} done {ours['completion_rate']:>6.1f}/s"
        f" | ratio {cell['ack_throughput_ratio']}"
        + (
            f" | same work done {cell['same_work']['completion_rate']:>6.1f}/s"
            f" ratio {cell['same_work_ratio']}"
            if "same_work" in cell
            else ""
        )
    )


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _errors(ours: dict[str, Any]) -> str:
    bad = {k: v for k, v in ours["statuses"].items() if k != "200"}
    parts = [f"{k}×{v}" for k, v in bad.items()]
    if ours.get("rejected"):
        parts.append(f"field errors×{ours['rejected']}")
    if "suggestions_shown" in ours:
        parts.append(f"suggestions shown in {ours['suggestions_shown']} of {ours['completed']}")
    if ours.get("stale_presses"):
        parts.append(f"stale presses×{ours['stale_presses']}")
    parts += [f"{k}×{v}" for k, v in ours.get("fake_errors", {}).items()]
    if ours.get("drain_timed_out"):
        parts.append("drain timed out")
    return ", ".join(parts) or "none"


def latency_table(phases: list[dict[str, Any]], tag: str = "") -> list[str]:
    lines = [
        "| history | request | clients | bare acks/s | bare p50 / p99 ms | introbot acks/s "
        "| introbot p50 / p99 ms | ack ratio | introbot work done/s | work ratio "
        "| work after load stops | CPU ms per request, bare / introbot | errors and notes |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for phase in phases:
        for cell in phase["cells"]:
            bare, ours = cell["bare"], cell["introbot"]
            lines.append(
                f"| {cell['history']:,}{tag} | {LABEL[cell['scenario']]} | {clients(cell)} "
                f"| {bare['throughput']:.0f} | {bare['p50_ms']:.1f} / {bare['p99_ms']:.1f} "
                f"| {ours['throughput']:.0f} | {ours['p50_ms']:.1f} / {ours['p99_ms']:.1f} "
                f"| {cell['ack_throughput_ratio']:.2f} | {ours['completion_rate']:.0f} "
                f"| {cell['completion_ratio']:.2f} | {ours['work_done_after_load_s']:.1f} s "
                f"| {_ms(bare.get('cpu_ms_per_request'))} / {_ms(ours.get('cpu_ms_per_request'))} "
                f"| {_errors(ours)} |"
            )
    return lines


def same_work_table(phases: list[dict[str, Any]]) -> list[str]:
    """introbot against the same work done plainly (bench/same_work.py), cell by cell."""
    cells = [cell for phase in phases for cell in phase["cells"] if "same_work" in cell]
    if not cells:
        return []
    lines = [
        "| history | request | clients | same-work done/s | introbot done/s | work ratio "
        "| same-work p50 / p99 ms | CPU ms per request, bare / same-work / introbot "
        "| CPU ratio to same-work | same-work errors |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for cell in cells:
        bare, same, ours = cell["bare"], cell["same_work"], cell["introbot"]
        lines.append(
            f"| {cell['history']:,} | {LABEL[cell['scenario']]} | {clients(cell)} "
            f"| {same['completion_rate']:.0f} | {ours['completion_rate']:.0f} "
            f"| {_ratio_text(cell.get('same_work_ratio'))} "
            f"| {same['p50_ms']:.1f} / {same['p99_ms']:.1f} "
            f"| {_ms(bare.get('cpu_ms_per_request'))} / {_ms(same.get('cpu_ms_per_request'))}"
            f" / {_ms(ours.get('cpu_ms_per_request'))} "
            f"| {_ratio_text(cell.get('same_work_cpu_ratio'))} | {_errors(same)} |"
        )
    return lines


def _ratio_text(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def growth_table(phases: list[dict[str, Any]]) -> list[str]:
    if len(phases) < 2:
        return []
    small, large = phases[0], phases[-1]
    lines = [
        f"| request | clients | p50 ms at {small['history']:,} → {large['history']:,} "
        f"| p99 ms | introbot acks/s | work done/s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for a, b in zip(small["cells"], large["cells"], strict=True):
        x, y = a["introbot"], b["introbot"]
        lines.append(
            f"| {LABEL[a['scenario']]} | {clients(a)} "
            f"| {x['p50_ms']:.1f} → {y['p50_ms']:.1f} "
            f"| {x['p99_ms']:.1f} → {y['p99_ms']:.1f} | {x['throughput']:.0f} → "
            f"{y['throughput']:.0f} | {x['completion_rate']:.0f} → {y['completion_rate']:.0f} |"
        )
    return lines


def markdown(results: dict[str, Any]) -> str:
    m = results.get("machine", {})
    out = [
        f"# introbot benchmark: {results.get('started', '')}",
        "",
        f"`{results.get('command', '')}` took {results.get('elapsed_s', 0):.0f} s on "
        f"{m.get('nproc')} × {m.get('cpu')}, {m.get('memory_gb')} GB, "
        f"PostgreSQL {m.get('postgresql')}, Python {m.get('python')}, "
        f"slack_bolt {m.get('slack_bolt')}. Load average at start: "
        f"{m.get('load_average_at_start')}.",
        "",
    ]
    if "yardstick" in results:
        from bench import yardstick

        out += [
            "## CPU per request against the same work (ABBA)",
            "",
            *yardstick.table(results["yardstick"]),
            "",
            *yardstick.profile_lines(results["yardstick"]),
        ]
    if results.get("phases"):
        out += [
            "## Ack latency and throughput",
            "",
            *latency_table(results["phases"]),
            "",
        ]
    same = same_work_table(results.get("phases", []))
    if same:
        out += ["## Against the same work done plainly (bench/same_work.py)", "", *same, ""]
    growth = growth_table(results.get("phases", []))
    if growth:
        out += ["## Growth with history", "", *growth, ""]
    if "after" in results and "skipped" in results["after"]:
        out += [f"No run with changes: {results['after']['skipped']}.", ""]
    elif "after" in results:
        after = results["after"]
        out += [
            f"## With the recommended changes ({after.get('changes', '')})",
            "",
            *latency_table([after], " (after)"),
            "",
            *growth_table([results["phases"][-1], after]),
            "",
        ]
    if "profiles" in results:
        out += profiles_section(results["profiles"])
    memory = results.get("bot_memory_kb", {})
    if memory:
        out += [
            "## Memory",
            "",
            f"introbot serve: peak RSS (VmHWM) {memory.get('VmHWM', 0) / 1024:.0f} MB, "
            f"RSS at the end {memory.get('VmRSS', 0) / 1024:.0f} MB; bare Bolt peak "
            f"{results.get('bare_memory_kb', {}).get('VmHWM', 0) / 1024:.0f} MB, same-work "
            f"peak {results.get('same_work_memory_kb', {}).get('VmHWM', 0) / 1024:.0f} MB.",
            "",
        ]
    if "dispatch" in results:
        out += dispatch_section(results["dispatch"])
    if "explain" in results:
        out += explain_section(results["explain"])
    return "\n".join(out) + "\n"


def dispatch_section(dispatch: dict[str, Any]) -> list[str]:
    lines = ["## Dispatch", ""]
    claims = dispatch.get("claims", {})
    for label, found in claims.items():
        lines.append(
            f"- claims on PostgreSQL ({label}): {found['claimed']:,} rows in "
            f"{found['seconds']:.2f} s = **{found['per_second']:,.0f} claims/s** "
            f"(batches of {found['batch']})"
        )
    lines.append("")
    lines += [
        "| replicas | due | posted (chat.postMessage) | first → last delivery | "
        "from start | rate | due messages claimed twice | peak RSS per replica |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for run in dispatch.get("runs", []):
        lines.append(
            f"| {run['replicas']} | {run['due']:,} | {run['posted']:,} "
            f"| {run['span_s']:.1f} s | {run['from_start_s']:.1f} s "
            f"| {run['rate']:,.0f}/s | {run.get('claimed_twice', '–')} "
            f"| {', '.join(f'{kb / 1024:.0f} MB' for kb in run['peak_rss_kb'])} |"
        )
    return lines + [""]


def explain_section(explain: dict[str, Any]) -> list[str]:
    lines = ["## EXPLAIN (ANALYZE, BUFFERS) at the largest history", ""]
    for name, entry in explain.get("plans", {}).items():
        lines += [f"### {name}", "", "```sql", entry["sql"].strip(), "```", "", "```"]
        lines += [entry["plan"].rstrip(), "```", ""]
    for name, entry in explain.get("with_index", {}).items():
        lines += [f"### {name}: with `{entry['index']}`", "", "```", entry["plan"].rstrip()]
        lines += ["```", ""]
    return lines


def profiles_section(profiles: dict[str, Any]) -> list[str]:
    from bench.profile import table

    lines = ["## Profiles (py-spy, introbot serve, highest concurrency)", ""]
    for scenario, entry in profiles.items():
        lines += [
            f"### {LABEL[scenario]} at {entry['concurrency']} clients "
            f"({entry['acks_per_s']:.0f} acks/s while sampled)",
            "",
            *table(entry["summary"], limit=12),
            "",
        ]
    return lines
