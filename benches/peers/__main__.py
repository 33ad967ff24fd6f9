"""Benchmark: tradewire against peer libraries on the same simulated stream, in one run.

``python -m benches.peers --help``; the method is in the package's docstring."""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

from .child import child_main
from .common import BY_NAME, LIBS, RAW_READER, RESULTS, Lib
from .harness import PACKAGE, Bench, Run, aggregate
from .memory import memory_run
from .report import chart, report


def main() -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {PACKAGE}", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--only", action="append", default=[], help="library to run (repeatable or a,b)")
    parser.add_argument("--scenario", choices=["trades", "book", "all"], default="all")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each fixed-rate play")
    parser.add_argument(
        "--runs", type=int, default=3, help="repetitions, interleaved (each library once per round)"
    )
    parser.add_argument(
        "--rates", default="5000,50000", help="fixed rates, messages of the stream per second (a,b,...)"
    )
    parser.add_argument("--rate", type=int, help="one fixed rate (instead of --rates)")
    parser.add_argument("--warmup", type=int, default=3000, help="messages of the warm-up play")
    parser.add_argument("--stall", type=float, default=10.0, help="give up a play after this long idle")
    parser.add_argument("--quiet", type=float, default=0.3, help="seconds of quiet before each play")
    parser.add_argument(
        "--max-messages", type=int, default=300_000, help="messages of the max-throughput play"
    )
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument(
        "--precise",
        action="store_true",
        help="pace fixed rates frame by frame (a simulator core spins) instead of 1 ms bursts",
    )
    parser.add_argument("--memory", type=float, metavar="SECONDS", help="tradewire's long memory run instead")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.child:
        child_main(json.loads(args.child))
        return
    args.rates = [args.rate] if args.rate else [int(x) for x in args.rates.split(",") if x]
    only = {name for item in args.only for name in item.split(",") if name}
    unknown = only - set(BY_NAME)
    if unknown:
        parser.error(f"unknown libraries {sorted(unknown)}; choose from {sorted(BY_NAME)}")
    command = shlex.join([os.path.relpath(sys.executable), "-m", PACKAGE, *sys.argv[1:]])
    args.load_before = os.getloadavg()[0]
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmpdir:
        bench = Bench(args, Path(tmpdir))
        if args.memory:
            memory_run(bench, args.memory, args.rates[-1], command, args.out)
            return
        skipped: list[str] = []
        libs: list[tuple[Lib, str]] = []
        for lib in LIBS:
            if only and lib.name not in only:
                continue
            if lib.name == "raw-rust":
                if not RAW_READER.exists():
                    skipped.append(
                        f"{lib.name} (`cargo build --release -p tradewire-benches --bin raw_reader`)"
                    )
                    continue
                libs.append((lib, "baseline"))
                continue
            try:
                importlib.import_module(lib.module)
            except ImportError:
                skipped.append(f"{lib.name} (not installed: `pip install -e '.[bench]'`)")
                continue
            libs.append((lib, importlib.metadata.version(lib.dist)))
        for note in skipped:
            print(f"skipped: {note}", flush=True)
        scenarios = ["trades", "book"] if args.scenario == "all" else [args.scenario]
        started = time.monotonic()
        each: list[Run] = []
        # Interleaved: round after round, each library once, the order turned a step each round,
        # so that a slow minute of the machine is shared out rather than landing on one library.
        for repetition in range(args.runs):
            for scenario in scenarios:
                turn = repetition % max(1, len(libs))
                for lib, version in libs[turn:] + libs[:turn]:
                    if scenario not in lib.scenarios:
                        continue
                    print(f"round {repetition + 1}/{args.runs} {scenario}: {lib.name} {version}", flush=True)
                    each.append(bench.run(lib, scenario, version, repetition))
        runs = aggregate(each)
        elapsed = time.monotonic() - started
    text = report(runs, skipped, args, command, elapsed)
    name = "peers" if args.loop == "asyncio" else f"peers-{args.loop}"
    (args.out / f"{name}.md").write_text(text)
    try:
        chart(runs, args, args.out / f"{name}.png")
    except ImportError:
        print("no chart: matplotlib is not installed (`pip install -e '.[bench]'`)")
    print(text)


if __name__ == "__main__":
    main()
