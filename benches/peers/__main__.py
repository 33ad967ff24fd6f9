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
from .common import BY_NAME, LIBS, RESULTS, Lib
from .harness import PACKAGE, Bench, tls_terminator
from .memory import memory_run
from .report import chart, report


def main() -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {PACKAGE}", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--only", action="append", default=[], help="library to run (repeatable or a,b)")
    parser.add_argument("--scenario", choices=["trades", "book", "all"], default="all")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each measured play")
    parser.add_argument(
        "--rates", default="5000,50000", help="fixed rates, messages of the stream per second (a,b,...)"
    )
    parser.add_argument("--rate", type=int, help="one fixed rate (instead of --rates)")
    parser.add_argument("--warmup", type=int, default=3000, help="messages of the warm-up play")
    parser.add_argument(
        "--settle", type=float, default=0.5, help="seconds after pausing the live market (diffs every 100 ms)"
    )
    parser.add_argument("--stall", type=float, default=10.0, help="give up a play after this long idle")
    parser.add_argument("--quiet", type=float, default=0.3, help="seconds of quiet before each play")
    parser.add_argument(
        "--max-messages", type=int, default=400_000, help="most messages in a max-throughput play"
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
    from tradewire.testing import Simulator

    args.out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as tmpdir,
        Simulator(seed=9, steps_per_second=50) as sim,
        tls_terminator(sim.endpoints("binance", "spot").ws_public, Path(tmpdir)) as tls,
    ):
        wss, cafile = tls if tls else (None, None)
        bench = Bench(args, sim, Path(tmpdir), wss, cafile)
        if args.memory:
            memory_run(bench, args.memory, args.rates[-1], command, args.out)
            return
        skipped: list[str] = []
        libs: list[tuple[Lib, str]] = []
        for lib in LIBS:
            if only and lib.name not in only:
                continue
            try:
                importlib.import_module(lib.module)
            except ImportError:
                skipped.append(f"{lib.name} (not installed: `pip install -e '.[bench]'`)")
                continue
            if lib.name == "cryptofeed" and wss is None:
                skipped.append("cryptofeed (accepts only wss:// and no openssl here to serve TLS)")
                continue
            libs.append((lib, importlib.metadata.version(lib.dist)))
        for note in skipped:
            print(f"skipped: {note}", flush=True)
        scenarios = ["trades", "book"] if args.scenario == "all" else [args.scenario]
        started = time.monotonic()
        runs = []
        for scenario in scenarios:
            for lib, version in libs:
                print(f"{scenario}: {lib.name} {version}", flush=True)
                runs.append(bench.run(lib, scenario, version))
        elapsed = time.monotonic() - started
    text = report(runs, skipped, args, command, elapsed)
    (args.out / "peers.md").write_text(text)
    try:
        chart(runs, args, args.out / "peers.png")
    except ImportError:
        print("no chart: matplotlib is not installed (`pip install -e '.[bench]'`)")
    print(text)


if __name__ == "__main__":
    main()
