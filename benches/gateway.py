"""Benchmark: fan-out through the gateway on NATS (issue 23) to 1, 10 and 50 reader processes.

One `tradewire gateway` process publishes Binance spot BTCUSDT trades and book diffs on a local
`nats-server`; N reader processes each read both through `tw.Remote`, and one more process reads
the same venue directly with `tw.Binance`. The venue is the simulator playing a recorded tape at
a fixed rate (`--rate` trades + diffs a second, as `benches.peers` does): every connection gets
the same frames at the same pace. For each N, over the same window:

- messages delivered per reader per second and in total, and any loss (gap markers);
- latency from the socket read at the gateway's connector (`local_time_ns`) to each reader's
  consumer, p50 / p99, and the same for the direct reader (its own socket read): the difference
  is what the gateway path adds;
- the gateway process's CPU time per message it published.

Everything shares this machine's cores (the simulator, NATS, the gateway and every reader), so
at 50 readers it measures contention too. Not a test: ``python -m benches.gateway``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"

READER = r"""
import asyncio, json, sys, time
import tradewire as tw

async def main(url, user, password, seconds, direct):
    rest, ws = direct.split(" ") if direct else ("", "")
    lat, count, gaps = [], 0, 0
    async def read(stream):
        nonlocal count, gaps
        async for item in stream:
            if isinstance(item, tw.Gap):
                gaps += item.missed
                continue
            now = time.time_ns()
            count += 1
            if count % 4 == 0:
                lat.append(now - item.local_time_ns)
    if direct:
        async with tw.Binance("spot", endpoints=tw.Endpoints(rest, ws)) as c:
            await run(read, c.trades("BTCUSDT"), c.book_diffs("BTCUSDT"), seconds)
    else:
        async with tw.Remote(url, "binance-spot", user=user, password=password) as r:
            await run(read, r.trades("BTCUSDT"), r.book_diffs("BTCUSDT"), seconds)
    lat.sort()
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] / 1000 if lat else float("nan")
    print(json.dumps({"count": count, "gaps": gaps, "p50": q(0.5), "p99": q(0.99)}), flush=True)

async def run(read, trades, diffs, seconds):
    tasks = [asyncio.create_task(read(trades)), asyncio.create_task(read(diffs))]
    await asyncio.sleep(1.0)  # warm-up: the book's first snapshot, the first trades
    sys.stdout.write("ready\n"); sys.stdout.flush()
    sys.stdin.readline()       # the window starts for every reader at once
    await asyncio.sleep(seconds)
    for t in tasks:
        t.cancel()

asyncio.run(main(*sys.argv[1:4], float(sys.argv[4]), sys.argv[5] if len(sys.argv) > 5 else ""))
"""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_reader(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", READER, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--readers", default="1,10,50", help="reader process counts (a,b,...)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window per count")
    parser.add_argument("--rate", type=int, default=2000, help="trades + diffs a second the venue sends")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).parents[1]))
    from tradewire.testing import Simulator

    from tests.nats import nats_server

    rows = []
    with Simulator(seed=5, steps_per_second=0) as sim, nats_server() as nats:
        v, m = sim.native_venue("binance"), sim.native_market("spot")

        def tape(messages: int, seed: int) -> int:
            """Records a tape of about `messages` trades + diffs; the tape rate that sends them
            at `--rate`."""
            sim.native.record_tape(v, m, "BTCUSDT", 2_000, seed=seed)
            frames = sim.native.tape_frames(v, m)
            wanted = sum(1 for route, _ in frames if route in ("trade", "depth"))
            steps = max(10, int(2_000 * messages / max(1, wanted)))
            sim.native.record_tape(v, m, "BTCUSDT", steps, seed=seed)
            frames = sim.native.tape_frames(v, m)
            wanted = sum(1 for route, _ in frames if route in ("trade", "depth"))
            rate: int = max(1, round(args.rate * len(frames) / max(1, wanted)))
            return rate

        endpoints = sim.endpoints("binance", "spot")
        login = nats.credentials("strategy")
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "gateway.toml"
            config.write_text(
                f'[nats]\nurl = "{nats.url}"\nuser = "gateway"\n'
                f'password = "{nats.credentials("gateway")["password"]}"\n'
                '[[venue]]\nvenue = "binance"\nmarket = "spot"\nsymbols = ["BTCUSDT"]\n'
                'channels = ["trades", "book"]\n'
                f'[venue.endpoints]\nrest = "{endpoints.rest}"\nws_public = "{endpoints.ws_public}"\n'
            )
            gateway = subprocess.Popen(
                [sys.executable, "-m", "tradewire", "gateway", "--config", str(config)],
                stderr=subprocess.DEVNULL,
            )
            try:
                time.sleep(3)
                for n in [int(x) for x in args.readers.split(",") if x]:
                    readers = [
                        start_reader([nats.url, login["user"], login["password"], str(args.seconds)])
                        for _ in range(n)
                    ]
                    direct = start_reader(
                        ["", "", "", str(args.seconds), f"{endpoints.rest} {endpoints.ws_public}"]
                    )
                    everyone = [*readers, direct]
                    # Books in sync everywhere before the window: a short tape at full speed.
                    time.sleep(1.0)
                    tape(200, seed=1000 + n)
                    sim.native.play_tape(v, m, rate=None)
                    for p in everyone:
                        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
                    time.sleep(1.0)
                    tape_rate = tape(int(args.rate * (args.seconds + 5)), seed=2000 + n)
                    cpu0 = cpu_seconds(gateway.pid)
                    sim.native.play_tape(v, m, rate=tape_rate)
                    for p in everyone:
                        assert p.stdin is not None
                        p.stdin.write("go\n")
                        p.stdin.flush()
                    results = [
                        json.loads(p.communicate(timeout=args.seconds + 60)[0].strip()) for p in everyone
                    ]
                    cpu = cpu_seconds(gateway.pid) - cpu0
                    remote, mine = results[:-1], results[-1]
                    delivered = sum(r["count"] for r in remote)
                    per_reader = delivered / n / args.seconds
                    rows.append(
                        {
                            "readers": n,
                            "per_reader": per_reader,
                            "total": delivered / args.seconds,
                            "lost": sum(r["gaps"] for r in remote),
                            "p50": sorted(r["p50"] for r in remote)[n // 2],
                            "p99": max(r["p99"] for r in remote),
                            "direct_p50": mine["p50"],
                            "direct_p99": mine["p99"],
                            "direct_rate": mine["count"] / args.seconds,
                            "gateway_cpu_us": cpu / max(1, mine["count"]) * 1e6,
                        }
                    )
                    print(rows[-1], flush=True)
            finally:
                gateway.terminate()
                gateway.wait(20)
    lines = [
        "# Gateway fan-out on NATS",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}. Command: `python -m benches.gateway --readers {args.readers} "
        f"--seconds {args.seconds} --rate {args.rate}` ({time.strftime('%Y-%m-%d %H:%M %Z')}).",
        "",
        f"One gateway process (Binance spot BTCUSDT trades and book diffs: the simulator plays a recorded "
        f"tape at {args.rate:,} messages/s), N reader "
        "processes on `tw.Remote` (trades + `book_diffs`), one direct `tw.Binance` reader, all on this "
        "machine. Latency: from the socket read at the connector that read it from the venue to the "
        "consumer (µs); for the direct reader that is its own connector. The gateway's CPU is per "
        "message the venue sent (trades + diffs, as the direct reader counted them).",
        "",
        "| readers | msgs/s per reader | msgs/s delivered in all | lost | p50 µs | p99 µs "
        "| direct p50 µs | direct p99 µs | added p50 / p99 µs | gateway CPU µs/msg |",
        "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['readers']} | {r['per_reader']:,.0f} | {r['total']:,.0f} | {r['lost']} | {r['p50']:,.0f} "
            f"| {r['p99']:,.0f} | {r['direct_p50']:,.0f} | {r['direct_p99']:,.0f} "
            f"| {r['p50'] - r['direct_p50']:,.0f} / {r['p99'] - r['direct_p99']:,.0f} "
            f"| {r['gateway_cpu_us']:.1f} |"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gateway.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
