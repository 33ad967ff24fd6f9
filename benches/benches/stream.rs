//! Core hot paths of the stream bridge, without Python: pushing events into a bounded queue
//! and draining them in batches, and exact decimal parsing of wire numbers.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rust_decimal::Decimal;
use tradewire_core::model::{Id, Market, Side, Source, Symbol, Trade, Venue, parse_decimal};
use tradewire_core::stream::{self, Overflow};

fn trade(i: u64, symbol: Symbol) -> Trade {
    Trade {
        source: Source {
            venue: Venue::Binance,
            market: Market::Spot,
        },
        symbol,
        trade_id: Id::from_u64(i),
        price: Decimal::new(5_000_000 + (i % 1000) as i64, 2),
        qty: Decimal::new((i % 100) as i64 + 1, 3),
        side: Side::Buy,
        exchange_time_ms: i as i64,
        local_time_ns: 0,
    }
}

fn queue(c: &mut Criterion) {
    const BATCH: u64 = 512;
    let symbol = Symbol::new("BTCUSDT");
    let mut group = c.benchmark_group("stream");
    group.throughput(Throughput::Elements(BATCH));
    group.bench_function("send_batch+drain 512 trades", |b| {
        let (tx, rx) = stream::channel::<Trade>(1 << 16, Overflow::NeverDrop);
        let mut out = Vec::with_capacity(BATCH as usize);
        b.iter(|| {
            tx.send_batch((0..BATCH).map(|i| trade(i, symbol))).unwrap();
            rx.drain_into(BATCH as usize, &mut out);
            black_box(&out);
            out.clear();
        });
    });
    group.bench_function("conflating send+drain 512 over 8 keys", |b| {
        let (tx, rx) = stream::conflating::<(u64, u64)>(64, |e| e.0);
        let mut out = Vec::with_capacity(8);
        b.iter(|| {
            tx.send_batch((0..BATCH).map(|i| (i % 8, i))).unwrap();
            rx.drain_into(64, &mut out);
            black_box(&out);
            out.clear();
        });
    });
    group.finish();
}

fn decimals(c: &mut Criterion) {
    let mut group = c.benchmark_group("decimal");
    group.throughput(Throughput::Elements(1));
    group.bench_function("parse_decimal price", |b| {
        b.iter(|| parse_decimal(black_box("67234.56000000")).unwrap())
    });
    group.bench_function("parse_decimal scientific", |b| {
        b.iter(|| parse_decimal(black_box("1.5E-7")).unwrap())
    });
    group.bench_function("rust_decimal from_str_exact (reference)", |b| {
        b.iter(|| Decimal::from_str_exact(black_box("67234.56000000")).unwrap())
    });
    group.finish();
}

criterion_group!(benches, queue, decimals);
criterion_main!(benches);
