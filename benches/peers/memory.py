"""``--memory``: tradewire's Binance book alone for a long play, its RSS every second
(``memory.md`` and ``memory.png``)."""

from __future__ import annotations

import importlib
import importlib.metadata
import time
from array import array
from pathlib import Path

from .common import BY_NAME, load
from .harness import SIM_SEED, Bench, Run, percentile
from .report import machine


def memory_run(bench: Bench, seconds: float, rate: int, command: str, out: Path) -> None:
    from tradewire.testing import Simulator

    lib = BY_NAME["tradewire"]
    run = Run(lib, "book", importlib.metadata.version("tradewire"))
    tapes = bench.plan(lib, "book")
    chunk_steps = max(10, round(tapes[2].steps * rate * 5 / bench.args.max_messages))
    latencies: list[int] = []
    per_chunk: list[tuple[float, float, float]] = []
    messages = 0
    first_sent = last_end = 0
    started = time.monotonic()
    with Simulator(seed=SIM_SEED, steps_per_second=0) as sim:
        bench.sim = sim
        native = sim.native
        venue, market = sim.native_venue("binance"), sim.native_market("spot")
        child = bench.spawn(lib, "book")
        try:
            child.expect("started", 60)
            bench.subscribed(lib, "book", child, 60)
            bench.prime(child, run, tapes[0])
            bench.play(child, run, tapes[1])
            seed = 1000
            ids, total = bench.record("binance", "depth", chunk_steps, seed)
            while True:
                recv_file = bench.tmp / "recv.bin"
                child.send({"cmd": "arm", "first_id": ids[0], "last_id": ids[-1], "file": str(recv_file)})
                child.expect("armed", 10)
                native.play_tape(venue, market, rate=max(1, round(rate * total / len(ids))))
                current = ids
                more = time.monotonic() - started < seconds
                if more:  # the next chunk starts where this one leads: record it while this one plays
                    seed += 1
                    ids, total = bench.record("binance", "depth", chunk_steps, seed)
                done = child.expect("done", 120)
                if not done["done"]:
                    raise RuntimeError(f"chunk did not finish: {done['error']}")
                sends = native.tape_sends(venue, market, "depth")
                sent = {i: ns for _, i, ns in sends}
                first_sent = first_sent or sends[0][2]
                last_end = done["end_ns"]
                got_ids, got_times = array("q"), array("q")
                with recv_file.open("rb") as f:
                    got_ids.fromfile(f, done["events"])
                    got_times.fromfile(f, done["events"])
                chunk_lat = sorted(t - sent[i] for i, t in zip(got_ids, got_times, strict=True) if i in sent)
                per_chunk.append(
                    (percentile(chunk_lat, 0.5), percentile(chunk_lat, 0.99), percentile(chunk_lat, 0.999))
                )
                latencies.extend(chunk_lat[::10])
                messages += len(current)
                elapsed = time.monotonic() - started
                print(f"  {elapsed:5.0f} s  {messages:>11,} msgs  p99 {per_chunk[-1][1]:,.0f} µs", flush=True)
                if not more:
                    break
        finally:
            bye = child.close()
            bench.sim = None
    chunk = messages // max(1, len(per_chunk))
    samples = [(float(t), int(b)) for t, b in (bye or {}).get("rss", [])]
    latencies.sort()
    rss = [b / 2**20 for _, b in samples]
    after_warm = [b / 2**20 for t, b in samples if t >= 10] or rss
    rate_seen = messages / ((last_end - first_sent) / 1e9)
    text = [
        "# tradewire memory over a long run",
        "",
        f"Machine: {machine()}.  ",
        f"Command: `{command}` ({time.strftime('%Y-%m-%d %H:%M %Z')}).  ",
        f"tradewire {run.version}: Binance spot BTCUSDT book (`book()` + `book_updates()`), "
        f"tape chunks of {chunk:,} diffs played back to back at {rate:,} diffs/s for {seconds:.0f} s.",
        "",
        f"- messages: {messages:,} at {rate_seen:,.0f} msg/s overall (a few ms between chunks)",
        f"- RSS sampled every second: start {rss[0]:.1f} MB, at 10 s {after_warm[0]:.1f} MB, "
        f"end {rss[-1]:.1f} MB, peak {max(rss):.1f} MB, min after 10 s {min(after_warm):.1f} MB",
        f"- latency (1 in 10 sampled) p50 {percentile(latencies, 0.5):,.0f} µs, "
        f"p99 {percentile(latencies, 0.99):,.0f} µs, p99.9 {percentile(latencies, 0.999):,.0f} µs; "
        f"worst chunk p99 {max(c[1] for c in per_chunk):,.0f} µs",
        "",
    ]
    (out / "memory.md").write_text("\n".join(text))
    print("\n".join(text))
    try:
        matplotlib = load("matplotlib")
    except ImportError:
        print("no chart: matplotlib is not installed (`pip install -e '.[bench]'`)")
        return
    matplotlib.use("Agg")
    plt = load("matplotlib.pyplot")
    fig, ax = plt.subplots(figsize=(8, 3.2))
    ax.plot([t for t, _ in samples], rss)
    ax.set_xlabel("seconds")
    ax.set_ylabel("RSS MB")
    ax.set_ylim(0, max(rss) * 1.2)
    ax.set_title(f"tradewire book at {rate:,} diffs/s: process RSS", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "memory.png", dpi=110)
