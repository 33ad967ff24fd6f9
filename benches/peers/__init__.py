"""Benchmark: tradewire against peer libraries on the same simulated stream, in one run.

One command runs every library in turn, each in its own subprocess (so CPU time and peak memory
are the library's own), against one simulator running in this parent process:

- ``trades``: Binance spot ``btcusdt@trade`` (cryptofeed reads only ``btcusdt@aggTrade``, the same
  trades with the same ids), Bybit spot ``publicTrade.BTCUSDT`` (pybit, and tradewire on Bybit so
  that pybit's ratio is same-venue);
- ``book``: Binance spot ``btcusdt@depth@100ms`` diffs over a REST snapshot, kept by each
  library's own book keeper (tradewire ``book()`` + ``book_updates()``, python-binance
  ``DepthCacheManager``, ccxt.pro ``watch_order_book``, cryptofeed ``L2_BOOK``; binance-sdk-spot
  has no book keeper, so its consumer applies the diffs to a plain dict book); Bybit spot
  ``orderbook.200.BTCUSDT`` (pybit's own book; tradewire on Bybit).

Each library connects and syncs on the live synthetic market. The parent then pauses the market,
records a tape (``record_tape``) and plays it (``play_tape``) to the library's connection: a
warm-up, then as fast as the library takes it (``max``), then at each fixed ``--rates`` (messages
of the measured stream per second). For every play:

- msgs/s: tape messages of the stream / (consumer got the last one - simulator wrote the first);
- CPU us/msg: the child's CPU time (every thread, user + system) over that window / messages;
- latency: wall clock when the consumer has the message (``time.time_ns()`` in its loop or
  callback; for books once the library has applied it) - when the simulator started writing it
  to the socket (``tape_sends``). Consumers that conflate (tradewire ``book_updates``, ccxt.pro
  futures) are measured for the newest update each wake-up carries;
- peak RSS: the child process's RSS high-water mark (``VmHWM``; interpreter and imports included);
- book: the library's final book equals the simulator's true book, every level of both sides.

``--memory SECONDS`` instead runs tradewire's Binance book alone at ``--rates``' last rate for that
long, sampling its RSS every second (``benches/results/memory.md`` and ``memory.png``).

Writes ``benches/results/peers.md`` and ``peers.png``. Not a test: ``make bench`` runs it; peers
that are not installed (``pip install -e '.[bench]'``) are skipped with a note.
"""
