"""Replay throughput: a recording the size of an hour or more of BTCUSDT market data (about
150,000 trades and depth@100ms diffs as the tape makes them; recorded by `tw.Recorder` from a
simulator tape played at full speed) replayed as fast as read
through a connector (`tw.Replay(speed=None)`): every trade read from `trades()` and the book
kept in sync to the last update. Rows: messages a second through the connector, and the raw
reading of the recording (`tw.read_recording`) as the baseline beside it.

    .venv/bin/python benches/replay.py [--messages 150000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tradewire as tw
from tradewire.testing import Simulator

HOUR_OF_BTCUSDT = 150_000  # asked of the tape; an hour of BTCUSDT is ~36,000 diffs and ~100,000 trades


async def record(directory: Path, messages: int) -> tuple[int, int, int]:
    """Records a tape of about `messages` trades and diffs; (trades, diffs, last update id)."""
    with Simulator(seed=5, steps_per_second=0) as sim:
        v, m = sim.native_venue("binance"), sim.native_market("spot")
        async with tw.Binance("spot", endpoints=sim.endpoints("binance", "spot")) as bn:
            recorder = tw.Recorder(
                bn, directory, symbols=["BTCUSDT"], channels=["trades", "book"], depth=1000
            )
            # The market is still: a short tape brings the diff the book needs to sync.
            starting = asyncio.create_task(recorder.start())
            await asyncio.sleep(1.0)
            sim.native.record_tape(v, m, "BTCUSDT", 200, seed=1)
            sim.native.play_tape(v, m, rate=None)
            await starting
            sim.native.record_tape(v, m, "BTCUSDT", 2_000, seed=7)
            per_step = len(sim.native.tape_frames(v, m)) / 2_000
            sim.native.record_tape(v, m, "BTCUSDT", max(10, int(messages / per_step)), seed=7)
            async with recorder:
                sim.native.play_tape(v, m, rate=None)
                settled, last = 0, -1
                while settled < 3:
                    await asyncio.sleep(0.5)
                    now = recorder.stats["entries"]
                    settled = settled + 1 if now == last else 0
                    last = now
            assert recorder.stats["lost"] == 0, recorder.stats
    trades = diffs = last_u = 0
    for e in tw.read_recording(directory):
        if e.kind != "ws":
            continue
        value = json.loads(e.text)
        if value["stream"].endswith("@trade"):
            trades += 1
        else:
            diffs += 1
            last_u = max(last_u, value["data"]["u"])
    return trades, diffs, last_u


async def replay(directory: Path, trades: int, last_u: int) -> float:
    start = time.perf_counter()
    async with tw.Replay(directory, speed=None) as bn:
        stream = bn.trades("BTCUSDT")
        book = await bn.book("BTCUSDT", depth=1000)
        seen = 0
        async for item in stream:
            if isinstance(item, tw.Trade):
                seen += 1
            if seen >= trades:
                break
        # The book's state is kept in Rust: polled, there is nothing to await.
        while book.update_id != last_u:  # noqa: ASYNC110
            await asyncio.sleep(0.001)
        elapsed = time.perf_counter() - start
        book.close()
    return elapsed


def read(directory: Path) -> float:
    start = time.perf_counter()
    n = sum(1 for _ in tw.read_recording(directory))
    assert n > 0
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=HOUR_OF_BTCUSDT)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "rec"
        trades, diffs, last_u = asyncio.run(record(directory, args.messages))
        total = trades + diffs
        size = sum(f.stat().st_size for f in directory.iterdir())
        print(f"recording: {trades} trades + {diffs} diffs, {size / 1e6:.1f} MB on disk")
        replays = [asyncio.run(replay(directory, trades, last_u)) for _ in range(args.runs)]
        reads = [read(directory) for _ in range(args.runs)]
    rows = [
        ("tw.Replay(speed=None) -> trades() + book()", replays),
        ("tw.read_recording (baseline: decode only)", reads),
    ]
    print(f"{'path':48} {'messages/s (median)':>20} {'range':>24}")
    for name, times in rows:
        rates = sorted(total / t for t in times)
        print(f"{name:48} {statistics.median(rates):>20,.0f} {rates[0]:>11,.0f}..{rates[-1]:<11,.0f}")
    result = {
        "messages": total,
        "trades": trades,
        "diffs": diffs,
        "replay_per_s": [total / t for t in replays],
        "read_per_s": [total / t for t in reads],
    }
    out = Path(__file__).parent / "results" / "replay.json"
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
