"""The report: ``peers.md`` (machine, versions, method, a table per scenario, the targets) and
``peers.png``."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.metadata
import math
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

from .common import BY_NAME, LIBS, Lib, load
from .harness import Play, Run


def versions() -> dict[str, str]:
    found = {}
    extra = [
        "websockets",
        "aiohttp",
        "uvloop",
        "orjson",
        "yapic.json",
        "order_book",
        "pydantic-core",
        "sortedcontainers",
    ]
    for dist in ["tradewire", *dict.fromkeys(lib.dist for lib in LIBS), *extra]:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[dist] = importlib.metadata.version(dist)
    return found


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()} ({platform.python_implementation()})"
    )


def fmt(value: float, digits: int = 0) -> str:
    if value != value:
        return "-"
    return f"{value:,.{digits}f}"


def ratio(a: float, b: float) -> str:
    if a != a or b != b or b == 0:
        return "-"
    return f"{a / b:.1f}x"


def same_venue_tradewire(runs: list[Run], lib: Lib, scenario: str) -> Run | None:
    name = "tradewire-bybit" if lib.venue == "bybit" else "tradewire"
    return next((r for r in runs if r.lib.name == name and r.scenario == scenario), None)


def behind(play: Play | None) -> bool:
    return play is not None and play.rate is not None and play.msgs_per_s < 0.95 * play.rate


def ratio_table(title: str, pairs: list[tuple[Run, Run | None]], top: str) -> list[str]:
    """Ratios of tradewire's medians to each peer's; a rate the peer could not keep gives no latency
    ratio (its latency there is a growing queue, not the library's)."""
    lines = [
        "",
        title,
        "",
        f"| peer | throughput (max) | CPU per msg (peer ÷ tw) | p99 at {top} (peer ÷ tw) "
        "| peak RSS (peer ÷ tw) |",
        "|---|--:|--:|--:|--:|",
    ]
    nan = math.nan
    for r, tw in pairs:
        twmax, pmax = (tw.play("max") if tw else None), r.play("max")
        twtop, ptop = (tw.play(top) if tw else None), r.play(top)
        latency = (
            "n/a (fell behind)"
            if behind(ptop)
            else ratio(ptop.p99 if ptop else nan, twtop.p99 if twtop else nan)
        )
        lines.append(
            f"| {r.lib.name} vs {tw.lib.name if tw else '-'} "
            f"| {ratio(twmax.msgs_per_s if twmax else nan, pmax.msgs_per_s if pmax else nan)} "
            f"| {ratio(pmax.cpu_us if pmax else nan, twmax.cpu_us if twmax else nan)} "
            f"| {latency} | {ratio(r.maxrss_mb, tw.maxrss_mb if tw else nan)} |"
        )
    return lines


def memory_table(runs: list[Run], top: str) -> list[str]:
    lines = [
        "",
        "Memory (MB, medians of the rounds): resident once in sync (after the warm-up tape), "
        f"after the {top} play, and the process's high-water mark:",
        "",
        f"| library | RSS in sync | RSS after {top} | peak RSS |",
        "|---|--:|--:|--:|",
    ]
    for r in runs:
        after = r.play(top)
        lines.append(
            f"| {r.lib.name} | {fmt(r.ready_rss_mb)} | {fmt(after.rss_mb if after else math.nan)} "
            f"| {fmt(r.maxrss_mb)} |"
        )
    return lines


def report(
    runs: list[Run], skipped: list[str], args: argparse.Namespace, command: str, elapsed: float
) -> str:
    v = versions()
    lines = [
        "# tradewire against peer libraries",
        "",
        f"Machine: {machine()}.  ",
        f"Command: `{command}` ({elapsed / 60:.1f} min, {time.strftime('%Y-%m-%d %H:%M %Z')}).  ",
        "Versions: " + ", ".join(f"{k} {x}" for k, x in v.items()) + ".  ",
        f"Event loop: {args.loop} (cryptofeed: uvloop, its default). Load average (1 min) before / "
        f"after the run: {args.load_before:.2f} / {os.getloadavg()[0]:.2f}. Every number below is the "
        f"median of {args.runs} interleaved rounds of this one run (each round runs every library "
        "once, in an order turned a step each round); msgs/s shows the rounds' range beside it.",
        "",
        "Each library runs alone in its own process against a fresh simulator (in the parent "
        "process, on the same machine: on this 2-core VM the simulator and the library share two "
        "cores) whose market stands still: every library, in every round, starts from the same "
        "book and is played the same recorded tapes (same seeds, same lengths). Once it is "
        "subscribed, a first tape primes it (a library that takes its REST snapshot on the first "
        "diff takes it then), a warm-up tape follows, then the measured tapes: as fast as it "
        "takes them (**max**, the same number of messages for every library), then at fixed "
        "rates of messages of the measured stream per second. Every consumer does the same with "
        "what it gets: each trade's id, and its price and quantity as exact decimals (what a "
        "strategy that keeps money exact needs: a library that hands out text pays for "
        "`Decimal()` in its consumer, ccxt's floats are read from the venue's text in its "
        "`info`, nautilus_trader's fixed-point values are turned to `Decimal`); the best bid and "
        "ask of each book delivery. "
        "msgs/s = tape messages / (consumer got the last - simulator wrote the first); CPU = the "
        "library process's CPU time (all threads) per message; latency = consumer has it "
        "(`time.time_ns()`) - the simulator started writing it (µs), not shown under **max** "
        "(there it is queueing: the simulator writes as fast as the socket takes), p99.9 only "
        "from 10,000 samples up; peak RSS = the library process's high-water mark (`VmHWM`); "
        "book = its book after every play equals the simulator's true book, every level; notes "
        "report trades lost, REST snapshots taken during a play (a resync) and, for tradewire, "
        "any diff of a play its book did not apply. "
        + (
            "Fixed rates are paced frame by frame (`--precise`: a simulator thread spins between "
            "frames, taking a core from the library on a small machine)."
            if args.precise
            else "Fixed rates are paced on the simulator's 1 ms timer: at 50,000 msg/s about 50 frames "
            "leave together every millisecond, so a frame's latency includes handling the frames "
            "written with it (`--precise` paces frame by frame)."
        ),
        "",
    ]
    if skipped:
        lines += ["Left out: " + "; ".join(skipped) + ".", ""]
    for scenario in ("trades", "book"):
        scenario_runs = [r for r in runs if r.scenario == scenario]
        if not scenario_runs:
            continue
        title = "Trades" if scenario == "trades" else "Order-book maintenance"
        lines += [f"## {title}", ""]
        for r in scenario_runs:
            if r.error:
                lines.append(f"- **{r.lib.name}**: failed ({r.error})")
        modes = ["max"] + [f"{x:,}/s" for x in args.rates]
        for mode in modes:
            lines += [
                "",
                f"### {mode}",
                "",
                "| library | stream · consumer | msgs/s (range) | CPU µs/msg (main thread) | p50 µs | p99 µs "
                "| p99.9 µs | peak RSS MB | book equal | notes |",
                "|---|---|--:|--:|--:|--:|--:|--:|:-:|---|",
            ]
            for r in scenario_runs:
                p = r.play(mode)
                if p is None:
                    continue
                consumer = r.lib.trades if scenario == "trades" else r.lib.book
                equal = "-" if p.book_equal is None else ("yes" if p.book_equal else "**no**")
                spread = f" ({fmt(p.low)}-{fmt(p.high)})" if p.runs > 1 else ""
                queueing = mode == "max"
                p50, p99 = ("-", "-") if queueing else (fmt(p.p50), fmt(p.p99))
                p999 = fmt(p.p999) if not queueing and p.samples >= 10_000 else "-"
                lines.append(
                    f"| {r.lib.name} {r.version} | `{r.lib.stream(scenario)}` · {consumer} "
                    f"| {fmt(p.msgs_per_s)}{spread} | {fmt(p.cpu_us, 1)} ({fmt(p.main_cpu_us, 1)}) | {p50} "
                    f"| {p99} | {p999} | {fmt(r.maxrss_mb)} | {equal} | {p.note} |"
                )
        splits = [
            f"- {r.lib.name}, {p.mode}: {p.split}"
            for r in scenario_runs
            if r.lib.name.startswith("tradewire")
            for p in r.plays
            if p.split
        ]
        if splits:
            lines += [
                "",
                "tradewire's latency split at the socket read in Rust (`local_time_ns`):",
                "",
                *splits,
            ]
        integrity = [
            f"- {r.lib.name}: {r.sync_snapshots} REST snapshot(s) to sync"
            + (
                "; every diff of every play applied, no resync"
                if all(p.applied_all for p in r.plays)
                else "; **a play's diffs were not all applied** (see notes)"
            )
            for r in scenario_runs
            if r.lib.name.startswith("tradewire") and scenario == "book"
        ]
        if integrity:
            lines += ["", "tradewire's book counters (`health().books`), every round:", "", *integrity]
        top = modes[-1]
        peers = [r for r in scenario_runs if not r.lib.name.startswith("tradewire") and not r.lib.baseline]
        what = ": book maintenance, tradewire's book in Rust, Python reads the latest view"
        lines += ratio_table(
            "Ratios (tradewire on the same venue ÷ peer, medians of the same run)"
            + (what if scenario == "book" else "")
            + ":",
            [(r, same_venue_tradewire(runs, r.lib, scenario)) for r in peers],
            top,
        )
        diffs = next((r for r in scenario_runs if r.lib.name == "tradewire-diffs"), None)
        if diffs is not None:
            lines += ratio_table(
                "Ratios, every diff into Python (tradewire-diffs ÷ peer; every peer hands each diff to "
                "Python code):",
                [(r, diffs) for r in peers if r.lib.venue == "binance"],
                top,
            )
        lines += memory_table(scenario_runs, top)
        baselines = [r for r in scenario_runs if r.lib.baseline and (p := r.play("max")) and p.msgs_per_s > 0]
        tw_run = same_venue_tradewire(runs, BY_NAME["tradewire"], scenario)
        tw_max = tw_run.play("max") if tw_run else None
        if baselines and tw_max:
            lines += ["", "Baselines (no library; what this machine allows a Python reader):", ""]
            for r in baselines:
                b = r.play("max")
                assert b is not None
                lines.append(
                    f"- {r.lib.name}: {fmt(b.msgs_per_s)} msg/s at max; tradewire's {fmt(tw_max.msgs_per_s)} "
                    f"is {tw_max.msgs_per_s / b.msgs_per_s:.2f}x of it"
                )
        lines.append("")
    lines += targets(runs, args)
    return "\n".join(lines) + "\n"


def targets(runs: list[Run], args: argparse.Namespace) -> list[str]:
    """Issue 20's targets for the book path, each met or missed with the figure measured here."""

    def book(name: str) -> Run | None:
        return next((r for r in runs if r.lib.name == name and r.scenario == "book"), None)

    def max_rate(run: Run | None) -> float:
        play = run.play("max") if run else None
        return play.msgs_per_s if play else math.nan

    def verdict(ok: bool) -> str:
        return "met." if ok else "**missed**."

    tw, diffs, raw = book("tradewire"), book("tradewire-diffs"), book("raw-rust")
    if tw is None:
        return []
    peers = [
        (max_rate(r), r.lib.name)
        for r in runs
        if r.scenario == "book"
        and r.lib.venue == "binance"
        and not r.lib.name.startswith("tradewire")
        and not r.lib.baseline
        and max_rate(r) == max_rate(r)
    ]
    lines = ["## Targets of the book path (issue 20)", ""]
    tw_max = max_rate(tw)
    if peers:
        best, name = max(peers)
        x = tw_max / best
        nautilus = max_rate(book("nautilus_trader"))
        ahead = (
            "" if nautilus != nautilus else f"; nautilus_trader {fmt(nautilus)} ({tw_max / nautilus:.1f}x)"
        )
        lines.append(
            f"- Book maintenance >= 10x the fastest Python peer and ahead of nautilus_trader: "
            f"{fmt(tw_max)} diffs/s against {name}'s {fmt(best)} = **{x:.1f}x**{ahead} — "
            + verdict(x >= 10 and not tw_max < nautilus)
        )
        if diffs is not None:
            d = max_rate(diffs) / best
            lines.append(
                f"- Every diff into Python >= 3x the fastest peer: tradewire-diffs {fmt(max_rate(diffs))} "
                f"diffs/s against {name}'s {fmt(best)} = **{d:.1f}x** — " + verdict(d >= 3)
            )
    if raw is not None:
        share = tw_max / max_rate(raw)
        lines.append(
            f"- tradewire >= 50% of the raw Rust reader: {fmt(tw_max)} of {fmt(max_rate(raw))} diffs/s "
            f"= **{share:.0%}** — " + verdict(share >= 0.5)
        )
        top = f"{args.rates[-1]:,}/s" if args.rates else ""
        at, base = tw.play(top), raw.play(top)
        if at and base and not behind(at):
            added = at.p99 - base.p99
            lines.append(
                f"- Added latency over the raw Rust reader at {top}, p99 <= 50 µs: tradewire p99 "
                f"{fmt(at.p99)} µs, raw Rust {fmt(base.p99)} µs = **+{fmt(added)} µs** (p50 +"
                f"{fmt(at.p50 - base.p50)}) — " + verdict(added <= 50)
            )
    lines.append(
        "- Flat memory over 10 minutes: see `memory.md` (`python -m benches.peers --memory 600`); this run's "
        f"tradewire process peaked at {fmt(tw.maxrss_mb)} MB (RSS {fmt(tw.ready_rss_mb)} MB once in sync)."
    )
    lines.append("")
    lines.append(
        "Where the time goes and why a target is missed: `benches/results/notes.md` (a profile of the "
        "book path on this machine, the simulator's share of the two cores, and what each peer does)."
    )
    return [*lines, ""]


def chart(runs: list[Run], args: argparse.Namespace, path: Path) -> None:
    matplotlib = load("matplotlib")
    matplotlib.use("Agg")
    plt = load("matplotlib.pyplot")
    scenarios = [s for s in ("trades", "book") if any(r.scenario == s for r in runs)]
    top = f"{args.rates[-1]:,}/s" if args.rates else "max"
    metrics: list[tuple[str, Callable[[Run], float], bool]] = [
        ("messages/s (max)", lambda r: getattr(r.play("max"), "msgs_per_s", math.nan), False),
        ("CPU µs per message (max)", lambda r: getattr(r.play("max"), "cpu_us", math.nan), False),
        (f"p99 latency µs at {top}", lambda r: getattr(r.play(top), "p99", math.nan), True),
        ("peak RSS MB", lambda r: r.maxrss_mb, False),
    ]
    fig, axes = plt.subplots(len(scenarios), len(metrics), figsize=(4.2 * len(metrics), 3.6 * len(scenarios)))
    if len(scenarios) == 1:
        axes = [axes]
    for row, scenario in zip(axes, scenarios, strict=True):
        scenario_runs = [r for r in runs if r.scenario == scenario and not r.error]
        names = [r.lib.name for r in scenario_runs]
        colors = ["#d95f02" if n.startswith("tradewire") else "#7570b3" for n in names]
        for ax, (title, value, log) in zip(row, metrics, strict=True):
            values = [value(r) for r in scenario_runs]
            ax.bar(range(len(names)), [0 if v != v else v for v in values], color=colors)
            ax.set_xticks(range(len(names)), names, rotation=40, ha="right", fontsize=8)
            ax.set_title(f"{scenario}: {title}", fontsize=9)
            if log:
                ax.set_yscale("log")
            for i, v in enumerate(values):
                if v == v:
                    ax.annotate(
                        f"{v:,.0f}" if v >= 10 else f"{v:.1f}", (i, v), ha="center", va="bottom", fontsize=7
                    )
    fig.suptitle(f"tradewire vs peers on the simulator · {machine()}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
