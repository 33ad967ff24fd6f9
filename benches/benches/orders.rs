//! The order-update hot path, per user-stream message: parsing a venue's event and applying
//! what it says (the order's state, its fill) to the order state machine; and signing a
//! request.
//!
//! Messages are the recorded ones in `tests/fixtures/real` with their ids, statuses and
//! quantities rewritten: each order goes NEW → PARTIALLY_FILLED → FILLED, with a fill per trade.
//! Each run checks that no report was judged stale and that every order it completed ended
//! FILLED, so a rule dropping reports would fail instead of looking fast.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use tradewire_core::model::Market;
use tradewire_core::orders::state::Orders;
use tradewire_core::venue::binance::{sign as binance_sign, user as binance_user};
use tradewire_core::venue::bybit::{sign as bybit_sign, user as bybit_user};
use tradewire_core::venue::{Credentials, UserEvent};

/// Orders per generated run (three or more messages each).
const ORDERS: usize = 5_000;

fn fixture(path: &str) -> Value {
    let file = format!(
        "{}/../tests/fixtures/real/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
    serde_json::from_str(&text).expect("fixture json")
}

/// `template` with `fields` replaced in `at` (a JSON pointer to the object), as compact text.
fn rewrite(template: &Value, at: &str, fields: Value) -> String {
    let mut message = template.clone();
    let object = message
        .pointer_mut(at)
        .and_then(Value::as_object_mut)
        .expect("an object at the pointer");
    for (k, v) in fields.as_object().expect("object") {
        object.insert(k.clone(), v.clone());
    }
    message.to_string()
}

/// Binance spot `executionReport`s (WebSocket API envelope): NEW, a partial trade, the last.
fn binance_spot() -> Vec<String> {
    let template = fixture("binance-spot/ws-private/docs-executionReport-wrapped.json");
    let mut texts = Vec::with_capacity(ORDERS * 3);
    for i in 0..ORDERS as u64 {
        let common = |x: &str, status: &str, last: &str, total: &str, trade: i64| {
            json!({"s": "BTCUSDT", "c": format!("tw-{i}"), "i": 1_000_000 + i, "q": "0.02000000",
                "p": "60000.00000000", "x": x, "X": status, "l": last, "z": total,
                "L": if trade < 0 { "0.00000000" } else { "60000.00000000" }, "t": trade,
                "n": "0", "N": if trade < 0 { Value::Null } else { json!("BNB") },
                "E": 1_764_000_000_000u64 + i, "T": 1_764_000_000_000u64 + i})
        };
        let t = (2 * i) as i64;
        for fields in [
            common("NEW", "NEW", "0.00000000", "0.00000000", -1),
            common("TRADE", "PARTIALLY_FILLED", "0.01000000", "0.01000000", t),
            common("TRADE", "FILLED", "0.01000000", "0.02000000", t + 1),
        ] {
            texts.push(rewrite(&template, "/event", fields));
        }
    }
    texts
}

/// Bybit linear `order` (New, PartiallyFilled, Filled) and `execution` messages.
fn bybit_linear() -> Vec<String> {
    let order = fixture("bybit-linear/ws-private/docs-order.json");
    let execution = fixture("bybit-linear/ws-private/docs-execution.json");
    let mut texts = Vec::with_capacity(ORDERS * 5);
    for i in 0..ORDERS {
        let id = format!("5cf98598-39a7-459e-97bf-{i:012}");
        let state = |status: &str, filled: &str, leaves: &str| {
            json!({"symbol": "BTCUSDT", "orderId": id, "orderLinkId": format!("tw-{i}"),
                "orderType": "Limit", "price": "60000.0", "qty": "0.020", "orderStatus": status,
                "cumExecQty": filled, "leavesQty": leaves, "avgPrice": if filled == "0" { "" } else { "60000" },
                "stopOrderType": "", "triggerPrice": "0", "createdTime": "1764000000000",
                "updatedTime": format!("{}", 1_764_000_000_000u64 + i as u64)})
        };
        let fill = |n: usize| {
            json!({"symbol": "BTCUSDT", "orderId": id, "orderLinkId": format!("tw-{i}"),
                "execId": format!("7e2ae69c-4edf-5800-{n}-{i:012}"), "execPrice": "60000.0",
                "execQty": "0.010", "execValue": "600", "orderPrice": "60000.0", "orderQty": "0.020",
                "orderType": "Limit", "side": "Buy", "execTime": "1764000000001"})
        };
        texts.push(rewrite(&order, "/data/0", state("New", "0", "0.020")));
        texts.push(rewrite(&execution, "/data/0", fill(1)));
        texts.push(rewrite(
            &order,
            "/data/0",
            state("PartiallyFilled", "0.010", "0.010"),
        ));
        texts.push(rewrite(&execution, "/data/0", fill(2)));
        texts.push(rewrite(&order, "/data/0", state("Filled", "0.020", "0")));
    }
    texts
}

/// Applies one message's events to the state machine.
fn apply(orders: &mut Orders, events: Vec<UserEvent>) {
    for event in events {
        let (order, fill) = match event {
            UserEvent::Order(order, fill) => (Some(order), fill),
            UserEvent::Fill(fill) => (None, Some(fill)),
            _ => (None, None),
        };
        if let Some(order) = order {
            black_box(orders.apply(&order));
        }
        if let Some(fill) = fill {
            black_box(orders.apply_fill(&fill));
        }
    }
}

/// Times parse+apply over `iters` messages, with a fresh state machine per run of `texts`.
fn timed(iters: u64, texts: &[String], parse: fn(&str) -> Vec<UserEvent>) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0u64;
    while done < iters {
        let mut orders = Orders::default();
        let n = ((iters - done) as usize).min(texts.len());
        let start = Instant::now();
        for text in &texts[..n] {
            apply(&mut orders, parse(black_box(text)));
        }
        total += start.elapsed();
        let stats = orders.stats();
        assert_eq!(stats.stale, 0, "reports judged stale: {stats:?}");
        if n == texts.len() {
            assert_eq!(orders.unfinished().count(), 0, "every order ends FILLED");
        }
        done += n as u64;
    }
    total
}

fn order_updates(c: &mut Criterion) {
    let mut group = c.benchmark_group("orders");
    group.throughput(Throughput::Elements(1));
    let binance = binance_spot();
    let parse_binance: fn(&str) -> Vec<UserEvent> =
        |t| binance_user::parse(Market::Spot, t).expect("executionReport");
    group.bench_function("binance spot executionReport parse", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % binance.len();
            black_box(parse_binance(&binance[i]))
        })
    });
    group.bench_function("binance spot executionReport parse+apply", |b| {
        b.iter_custom(|iters| timed(iters, &binance, parse_binance))
    });
    let bybit = bybit_linear();
    let parse_bybit: fn(&str) -> Vec<UserEvent> =
        |t| bybit_user::parse(Market::Linear, t).expect("order or execution");
    group.bench_function("bybit linear order/execution parse+apply", |b| {
        b.iter_custom(|iters| timed(iters, &bybit, parse_bybit))
    });
    group.finish();
}

fn signing(c: &mut Criterion) {
    let mut group = c.benchmark_group("sign");
    group.throughput(Throughput::Elements(1));
    let credentials = Credentials::new(
        "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
        "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j",
    )
    .expect("hmac key");
    let params: Vec<(String, String)> = [
        ("symbol", "BTCUSDT"),
        ("side", "BUY"),
        ("type", "LIMIT"),
        ("timeInForce", "GTC"),
        ("quantity", "0.01"),
        ("price", "60000.00"),
        ("newClientOrderId", "tw-0123456789abcdef"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let window = Duration::from_secs(5);
    group.bench_function("binance order query (HMAC-SHA256)", |b| {
        b.iter(|| {
            binance_sign::signed_query(&credentials, black_box(&params), 1_764_000_000_000, window)
        })
    });
    let body = r#"{"category":"linear","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"0.01","price":"60000.0","timeInForce":"GTC","orderLinkId":"tw-0123456789abcdef"}"#;
    group.bench_function("bybit order headers (HMAC-SHA256)", |b| {
        b.iter(|| bybit_sign::headers(&credentials, 1_764_000_000_000, window, black_box(body)))
    });
    group.finish();
}

criterion_group!(benches, order_updates, signing);
criterion_main!(benches);
