//! The book-delta hot path, per message (and a merged book's update, `book/merged`): parsing a venue's wire text, applying it to a live
//! book under that venue's sync rules, and publishing the new top levels to a conflated view
//! stream (the Rust half of `book_updates`; `benches/book_updates.py` measures the whole trip
//! into Python).
//!
//! The messages are synthetic but shaped like the recordings in `shared/fixtures/real`: a deep
//! BTCUSDT book (1,000 levels a side on Binance, `orderbook.200` on Bybit) and diffs of 2–8
//! levels a side, a fifth of them deletions, clustered near the top. Each run checks that every
//! message was applied, so a rule rejecting them would show up as a failure, not as speed.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use rust_decimal::Decimal;
use tradewire_core::aggregate::{MergedBook, Part};
use tradewire_core::book::live::{Feed, LiveBook, Need, ViewTicket};
use tradewire_core::book::sync::BookDelta;
use tradewire_core::book::{Change, PriceKey};
use tradewire_core::model::{Level, Market, Source, Symbol, Venue};
use tradewire_core::stream;
use tradewire_core::venue::binance::book::{BinanceSync, Chain, KEEP, snapshot_delta};
use tradewire_core::venue::binance::messages::{self as binance, DepthSnapshot, MarketMessage};
use tradewire_core::venue::bybit::book::BybitSync;
use tradewire_core::venue::bybit::messages::{self as bybit, TopicMessage};

/// Messages per generated run; the book is rebuilt (untimed) after each.
const RUN: usize = 20_000;
const MID: i64 = 6_700_000;

/// A small deterministic generator (xorshift64*), so every run replays the same market.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// How one venue writes numbers: ticks and lots to decimal text.
struct Format {
    tick: Decimal,
    step: Decimal,
    /// Decimal places on the wire (Binance pads to 8, Bybit writes the instrument's own).
    price_dp: u32,
    qty_dp: u32,
}

impl Format {
    /// A level as the venue writes it (its decimal places).
    fn written(&self, ticks: i64, lots: i64) -> Level {
        let mut price = Decimal::from(ticks) * self.tick;
        let mut qty = Decimal::from(lots) * self.step;
        price.rescale(self.price_dp);
        qty.rescale(self.qty_dp);
        Level { price, qty }
    }

    fn level(&self, ticks: i64, lots: i64) -> String {
        let level = self.written(ticks, lots);
        format!("[\"{}\",\"{}\"]", level.price, level.qty)
    }

    /// A book change as a venue book journals it.
    fn change(&self, bid: bool, ticks: i64, lots: i64) -> Change {
        let level = self.written(ticks, lots);
        let key = PriceKey::of(level.price).expect("a price");
        if bid {
            Change::Bid(key, level)
        } else {
            Change::Ask(key, level)
        }
    }

    /// One side's changed levels, near the top: bids below `MID`, asks from it up.
    fn changes(&self, rng: &mut Rng, bid: bool) -> String {
        let n = 2 + rng.below(7);
        let levels: Vec<String> = (0..n)
            .map(|_| {
                // Squared offsets cluster changes near the top, as in real books.
                let off = (rng.below(45) * rng.below(45) / 10) as i64;
                let ticks = if bid { MID - 1 - off } else { MID + off };
                let lots = if rng.below(5) == 0 {
                    0
                } else {
                    1 + rng.below(50_000) as i64
                };
                self.level(ticks, lots)
            })
            .collect();
        levels.join(",")
    }

    fn full_side(&self, depth: i64, bid: bool) -> Vec<String> {
        (0..depth)
            .map(|k| self.level(if bid { MID - 1 - k } else { MID + k }, 1_000 + k))
            .collect()
    }
}

const BINANCE: Format = Format {
    tick: Decimal::from_parts(1, 0, 0, false, 2),
    step: Decimal::from_parts(1, 0, 0, false, 5),
    price_dp: 8,
    qty_dp: 8,
};

const BYBIT: Format = Format {
    tick: Decimal::from_parts(1, 0, 0, false, 1),
    step: Decimal::from_parts(1, 0, 0, false, 3),
    price_dp: 1,
    qty_dp: 3,
};

const FIRST_ID: u64 = 40_000_000_000;

/// `RUN` combined-stream `depthUpdate` texts, ids chained from `FIRST_ID`; USD-M adds `pu`.
fn binance_diffs(market: Market) -> Vec<String> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let stream = if market == Market::Spot {
        "btcusdt@depth@100ms"
    } else {
        "btcusdt@depth@0ms"
    };
    let mut last = FIRST_ID;
    (0..RUN)
        .map(|i| {
            let first = last + 1;
            let end = last + 1 + rng.below(20);
            let pu = if market == Market::Spot {
                String::new()
            } else {
                format!(",\"pu\":{last}")
            };
            let text = format!(
                "{{\"stream\":\"{stream}\",\"data\":{{\"e\":\"depthUpdate\",\"E\":{e},\"T\":{e},\
                 \"s\":\"BTCUSDT\",\"U\":{first},\"u\":{end}{pu},\"b\":[{b}],\"a\":[{a}]}}}}",
                e = 1_764_000_000_000u64 + i as u64,
                b = BINANCE.changes(&mut rng, true),
                a = BINANCE.changes(&mut rng, false),
            );
            last = end;
            text
        })
        .collect()
}

fn binance_snapshot() -> DepthSnapshot {
    let text = format!(
        "{{\"lastUpdateId\":{FIRST_ID},\"bids\":[{}],\"asks\":[{}]}}",
        BINANCE.full_side(1_000, true).join(","),
        BINANCE.full_side(1_000, false).join(",")
    );
    binance::depth_snapshot(&serde_json::from_str(&text).expect("json")).expect("snapshot")
}

/// `RUN` Bybit `orderbook.200` messages: a snapshot, then deltas with consecutive `u`.
fn bybit_updates() -> Vec<String> {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let message = |kind: &str, u: u64, b: String, a: String| {
        format!(
            "{{\"topic\":\"orderbook.200.BTCUSDT\",\"type\":\"{kind}\",\"ts\":{ts},\"data\":\
             {{\"s\":\"BTCUSDT\",\"b\":[{b}],\"a\":[{a}],\"u\":{u},\"seq\":{seq}}},\"cts\":{ts}}}",
            ts = 1_764_000_000_000u64 + u,
            seq = 90_000_000_000u64 + u * 3,
        )
    };
    let mut texts = vec![message(
        "snapshot",
        FIRST_ID,
        BYBIT.full_side(200, true).join(","),
        BYBIT.full_side(200, false).join(","),
    )];
    for u in FIRST_ID + 1..FIRST_ID + RUN as u64 {
        let b = BYBIT.changes(&mut rng, true);
        let a = BYBIT.changes(&mut rng, false);
        texts.push(message("delta", u, b, a));
    }
    texts
}

fn source(venue: Venue, market: Market) -> Source {
    Source { venue, market }
}

/// A diff as the connector hands it to a book (the venue's reader: parse, then into the
/// sync rules' type).
fn binance_diff(market: Market, text: &str) -> BookDelta {
    match binance::parse(market, text, 0) {
        Ok(MarketMessage::Depth(diff)) => diff.into(),
        other => panic!("not a depth diff: {other:?}"),
    }
}

fn bybit_update(text: &str) -> BookDelta {
    match bybit::parse(Market::Linear, text, 0) {
        Ok(TopicMessage::Book(update)) => update.into(),
        other => panic!("not a book update: {other:?}"),
    }
}

/// A Binance book synced on `binance_snapshot()`, as the connector brings one up: the first
/// diff asks for the snapshot and is bridged by it.
fn synced_binance(market: Market, first_diff: &str, snapshot: &DepthSnapshot) -> Arc<LiveBook> {
    // Spot bridges with `U <= L + 1 <= u`, USD-M with `U <= L <= u`: the first diff starts at
    // `FIRST_ID + 1`.
    let mut snapshot = snapshot.clone();
    if market != Market::Spot {
        snapshot.last_update_id = FIRST_ID + 1;
    }
    let chain = if market == Market::Spot {
        Chain::Spot
    } else {
        Chain::Usdm
    };
    let symbol = Symbol::new("BTCUSDT");
    let book = Arc::new(LiveBook::new(
        source(Venue::Binance, market),
        symbol,
        "btcusdt@depth@100ms".into(),
        KEEP,
        Box::new(BinanceSync::new(chain)),
    ));
    let Need::Snapshot(ticket) = book.on_update(&binance_diff(market, first_diff), 0, 0).need
    else {
        panic!("a fresh book asks for a snapshot");
    };
    let snapshot = snapshot_delta(symbol, snapshot);
    assert!(book.on_snapshot(ticket, &snapshot, 0).synced);
    book
}

fn synced_bybit(snapshot: &str) -> Arc<LiveBook> {
    let book = Arc::new(LiveBook::new(
        source(Venue::Bybit, Market::Linear),
        Symbol::new("BTCUSDT"),
        "orderbook.200.BTCUSDT".into(),
        200,
        Box::new(BybitSync::new(200)),
    ));
    assert!(book.on_update(&bybit_update(snapshot), 0, 0).synced);
    book
}

/// Times `per_message` over `iters` messages, rebuilding the book untimed every `RUN - 1`;
/// checks after each run that every message was applied.
fn timed(
    iters: u64,
    texts: &[String],
    fresh: impl Fn() -> Arc<LiveBook>,
    mut per_message: impl FnMut(&Arc<LiveBook>, &str),
) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0u64;
    while done < iters {
        let book = fresh();
        let before = book.stats().applied;
        let n = ((iters - done) as usize).min(texts.len() - 1);
        let start = Instant::now();
        for text in &texts[1..=n] {
            per_message(&book, text);
        }
        total += start.elapsed();
        assert!(book.is_synced(), "the run lost sync: {:?}", book.stats());
        assert_eq!(
            book.stats().applied - before,
            n as u64,
            "every message applies"
        );
        done += n as u64;
    }
    total
}

fn binance_books(c: &mut Criterion) {
    let snapshot = binance_snapshot();
    let mut group = c.benchmark_group("book/binance");
    group.throughput(Throughput::Elements(1));
    for market in [Market::Spot, Market::Linear] {
        let texts = binance_diffs(market);
        let name = if market == Market::Spot {
            "spot"
        } else {
            "usdm"
        };
        let fresh = || synced_binance(market, &texts[0], &snapshot);
        group.bench_function(format!("{name} depthUpdate parse"), |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % texts.len();
                black_box(binance_diff(market, &texts[i]))
            })
        });
        group.bench_function(format!("{name} depthUpdate parse+apply"), |b| {
            b.iter_custom(|iters| {
                timed(iters, &texts, fresh, |book, text| {
                    black_box(book.on_update(&binance_diff(market, text), 0, 0));
                })
            })
        });
    }
    let texts = binance_diffs(Market::Spot);
    let fresh = || synced_binance(Market::Spot, &texts[0], &snapshot);
    group.bench_function("spot depthUpdate parse+apply+publish top 10", |b| {
        b.iter_custom(|iters| {
            let (tx, rx) = stream::conflating(1, |_: &ViewTicket| 0);
            let tx = Arc::new(tx);
            let mut out = Vec::with_capacity(1);
            timed(
                iters,
                &texts,
                || {
                    let book = fresh();
                    book.add_view_reader(tx.clone(), 10);
                    book
                },
                |book, text| {
                    if book
                        .on_update(&binance_diff(Market::Spot, text), 0, 0)
                        .changed
                    {
                        book.publish();
                    }
                    // The worst case for the producer's side: the reader takes every view.
                    rx.drain_into(1, &mut out);
                    for item in out.drain(..) {
                        if let stream::Item::Event(ticket) = item {
                            black_box(ticket.view());
                        }
                    }
                },
            )
        })
    });
    group.finish();
}

fn bybit_books(c: &mut Criterion) {
    let texts = bybit_updates();
    let mut group = c.benchmark_group("book/bybit");
    group.throughput(Throughput::Elements(1));
    group.bench_function("linear orderbook.200 delta parse", |b| {
        let mut i = 0;
        b.iter(|| {
            i = i % (texts.len() - 1) + 1;
            black_box(bybit_update(&texts[i]))
        })
    });
    group.bench_function("linear orderbook.200 delta parse+apply", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                &texts,
                || synced_bybit(&texts[0]),
                |book, text| {
                    black_box(book.on_update(&bybit_update(text), 0, 0));
                },
            )
        })
    });
    group.finish();
}

/// A merged book (CRSX-01) of a Binance book (tick 0.01) and a Bybit book (tick 0.1) holding
/// `depth` levels a side each: the cost of applying one diff's changes (2–8 levels a side, as
/// above) does not grow with the depth — a map operation per changed level, then the best bid
/// and ask across venues checked for a change.
fn merged_books(c: &mut Criterion) {
    let mut group = c.benchmark_group("book/merged");
    group.throughput(Throughput::Elements(1));
    let parts = [
        Part {
            source: source(Venue::Binance, Market::Spot),
            symbol: "BTCUSDT".into(),
            tick: BINANCE.tick,
        },
        Part {
            source: source(Venue::Bybit, Market::Linear),
            symbol: "BTCUSDT".into(),
            tick: BYBIT.tick,
        },
    ];
    // Bybit prices in its own ticks: ten Binance ticks each.
    let mids = [MID, MID / 10];
    let formats = [&BINANCE, &BYBIT];
    let mut rng = Rng(0x5851_f42d_4c95_7f2d);
    let diffs: Vec<(usize, Vec<Change>)> = (0..4_096)
        .map(|i| {
            let venue = i % 2;
            let n = 4 + rng.below(13);
            let changes = (0..n)
                .map(|_| {
                    let off = (rng.below(45) * rng.below(45) / 10) as i64;
                    let lots = if rng.below(5) == 0 {
                        0
                    } else {
                        1 + rng.below(50_000) as i64
                    };
                    if rng.below(2) == 0 {
                        formats[venue].change(true, mids[venue] - 1 - off, lots)
                    } else {
                        formats[venue].change(false, mids[venue] + off, lots)
                    }
                })
                .collect();
            (venue, changes)
        })
        .collect();
    for depth in [100i64, 1_000, 10_000] {
        let merged = MergedBook::new("BTC/USDT", &parts, None).expect("merged book");
        for (venue, mid) in mids.iter().enumerate() {
            let mut full = vec![Change::Clear];
            for k in 0..depth {
                full.push(formats[venue].change(true, mid - 1 - k, 1_000 + k));
                full.push(formats[venue].change(false, mid + k, 1_000 + k));
            }
            merged.apply(venue, &feed(&full));
        }
        let bbo = merged.bbo_updates();
        let mut out = Vec::with_capacity(1);
        group.bench_function(
            format!("apply a diff, {depth} levels a side per venue"),
            |b| {
                let mut i = 0;
                b.iter(|| {
                    i = (i + 1) % diffs.len();
                    let (venue, changes) = &diffs[i];
                    merged.apply(*venue, &feed(changes));
                    // The reader takes the latest best bid/ask now and then.
                    if i % 64 == 0 {
                        out.clear();
                        bbo.drain_into(1, &mut out);
                    }
                })
            },
        );
        assert!(merged.levels_of(0) > 0 && merged.levels_of(1) > 0);
    }
    group.finish();
}

fn feed(changes: &[Change]) -> Feed<'_> {
    Feed {
        synced: true,
        changes,
        reason: None,
        update_id: None,
        exchange_time_ms: 0,
        local_time_ns: 0,
    }
}

/// `TW_BOOK_COUNT=binance-spot|binance-usdm|bybit-linear[-parse]`: runs one path over the
/// generated messages once and exits, for an instruction count under
/// `valgrind --tool=cachegrind` (exact where timings on a shared VM are not).
fn count(which: &str) {
    let (path, parse_only) = match which.strip_suffix("-parse") {
        Some(path) => (path, true),
        None => (which, false),
    };
    match path {
        "binance-spot" | "binance-usdm" => {
            let market = if path == "binance-spot" {
                Market::Spot
            } else {
                Market::Usdm
            };
            let texts = binance_diffs(market);
            let book = synced_binance(market, &texts[0], &binance_snapshot());
            counted_binance(market, &book, &texts[1..], parse_only);
        }
        "bybit-linear" => {
            let texts = bybit_updates();
            let book = synced_bybit(&texts[0]);
            counted_bybit(&book, &texts[1..], parse_only);
        }
        other => panic!("TW_BOOK_COUNT={other}: use binance-spot, binance-usdm or bybit-linear"),
    }
}

/// The counted part (`valgrind --tool=callgrind --toggle-collect='*counted_*'`).
#[inline(never)]
fn counted_binance(market: Market, book: &LiveBook, texts: &[String], parse_only: bool) {
    for text in texts {
        let diff = binance_diff(market, text);
        if !parse_only {
            assert!(book.on_update(&diff, 0, 0).changed);
        }
        black_box(diff);
    }
}

#[inline(never)]
fn counted_bybit(book: &LiveBook, texts: &[String], parse_only: bool) {
    for text in texts {
        let update = bybit_update(text);
        if !parse_only {
            assert!(book.on_update(&update, 0, 0).changed);
        }
        black_box(update);
    }
}

criterion_group!(benches, binance_books, bybit_books, merged_books);

fn main() {
    if let Ok(which) = std::env::var("TW_BOOK_COUNT") {
        count(&which);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
