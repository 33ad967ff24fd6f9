//! Synthetic Rust producers for testing and benchmarking the stream bridge from Python
//! (`tradewire.testing.synthetic_stream`). They run as real Tokio tasks on the shared runtime
//! and push through the same queues the venue connectors use.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pyo3::prelude::*;
use pyo3::types::PyModule;
use rust_decimal::Decimal;
use tokio::sync::watch;
use tradewire_core::Error;
use tradewire_core::model::{Id, Market, Side, Source, Symbol, Ticker, Trade, Venue};
use tradewire_core::stream::{self, Overflow, SendError, Sender};

use crate::errors::IntoPyResult;
use crate::stream::NativeStream;

/// How a synthetic producer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Running,
    Finished,
    ConsumerGone,
    SlowConsumer,
    Cancelled,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Running => "running",
            Outcome::Finished => "finished",
            Outcome::ConsumerGone => "consumer_gone",
            Outcome::SlowConsumer => "slow_consumer",
            Outcome::Cancelled => "cancelled",
        }
    }
}

/// Observes a synthetic producer task.
#[pyclass(module = "tradewire._native", frozen)]
pub struct Producer {
    sent: Arc<AtomicU64>,
    outcome: watch::Receiver<Outcome>,
}

#[pymethods]
impl Producer {
    /// Events accepted by the queue so far (dropped ones excluded).
    #[getter]
    fn sent(&self) -> u64 {
        self.sent.load(Ordering::Acquire)
    }

    /// `"running"`, `"finished"`, `"consumer_gone"`, `"slow_consumer"` or `"cancelled"`.
    #[getter]
    fn outcome(&self) -> &'static str {
        self.outcome.borrow().as_str()
    }

    /// Awaits the end of the producer and returns its outcome. Safe to cancel.
    fn wait<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        crate::runtime::runtime(py)?;
        let mut outcome = self.outcome.clone();
        crate::runtime::future_into_py(py, async move {
            let ended = outcome
                .wait_for(|o| *o != Outcome::Running)
                .await
                .map(|o| *o)
                .unwrap_or(Outcome::Cancelled);
            Ok(ended.as_str())
        })
    }
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

fn symbol_key(ticker: &Ticker) -> u64 {
    // Symbols are "S<k>": the index is a perfect key.
    ticker.symbol[1..].parse().unwrap_or(u64::MAX)
}

fn parse_overflow(py: Python<'_>, text: &str) -> PyResult<Overflow> {
    match text {
        "conflate" => Ok(Overflow::Conflate),
        "gap_marker" => Ok(Overflow::GapMarker),
        "never_drop" => Ok(Overflow::NeverDrop),
        other => Err(Error::invalid_argument(
            "overflow",
            format!("'{other}' is not one of conflate, gap_marker, never_drop"),
        ))
        .py_err(py),
    }
}

struct Plan {
    count: u64,
    batch: usize,
    interval: Duration,
    backpressure: bool,
}

async fn produce<T: Send + 'static>(
    tx: Sender<T>,
    plan: Plan,
    make: impl Fn(u64, i64) -> T + Send + 'static,
    sent: Arc<AtomicU64>,
    outcome: watch::Sender<Outcome>,
    cancel: tokio_util::sync::CancellationToken,
) {
    let mut next = 0u64;
    let ended = loop {
        if plan.count > 0 && next >= plan.count {
            break Outcome::Finished;
        }
        if cancel.is_cancelled() {
            break Outcome::Cancelled;
        }
        if plan.backpressure && tx.backlog() > tx.capacity() / 2 {
            // Half the queue is still ahead of the consumer: a long nap costs no latency.
            tokio::time::sleep(Duration::from_millis(1)).await;
            continue;
        }
        let end = if plan.count > 0 {
            (next + plan.batch as u64).min(plan.count)
        } else {
            next + plan.batch as u64
        };
        // One receive timestamp per batch, as a connector stamps each WebSocket message once.
        let received = now_ns();
        match tx.send_batch((next..end).map(|i| make(i, received))) {
            Ok(()) => {}
            Err(SendError::Closed) => break Outcome::ConsumerGone,
            Err(SendError::SlowConsumer) => break Outcome::SlowConsumer,
        }
        sent.store(
            tx.stats().delivered.load(Ordering::Relaxed),
            Ordering::Release,
        );
        next = end;
        if plan.interval.is_zero() {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(plan.interval).await;
        }
    };
    sent.store(
        tx.stats().delivered.load(Ordering::Relaxed),
        Ordering::Release,
    );
    drop(tx); // a clean end for the consumer, after everything sent
    let _ = outcome.send(ended);
}

/// Starts a Tokio task that produces `count` synthetic events (0: until the consumer leaves)
/// into a new stream, `batch` per send, sleeping `interval_us` between sends.
/// `kind="trades"` yields `Trade`s; `kind="tickers"` yields `Ticker`s over `symbols` symbols
/// (`S0`, `S1`, ...) whose `last` is the event's sequence number.
#[pyfunction]
#[pyo3(signature = (kind, count, *, overflow = "gap_marker", capacity = 65_536, batch = 256, interval_us = 0,
    symbols = 1, backpressure = false))]
#[allow(clippy::too_many_arguments)]
fn synthetic_stream(
    py: Python<'_>,
    kind: &str,
    count: u64,
    overflow: &str,
    capacity: usize,
    batch: usize,
    interval_us: u64,
    symbols: u64,
    backpressure: bool,
) -> PyResult<(NativeStream, Producer)> {
    let overflow = parse_overflow(py, overflow)?;
    let cancel = crate::runtime::root_token(py)?;
    let plan = Plan {
        count,
        batch: batch.max(1),
        interval: Duration::from_micros(interval_us),
        backpressure,
    };
    let symbols = symbols.max(1);
    let sent = Arc::new(AtomicU64::new(0));
    let (outcome_tx, outcome_rx) = watch::channel(Outcome::Running);
    let source = Source {
        venue: Venue::Binance,
        market: Market::Spot,
    };
    let names: Arc<[Symbol]> = (0..symbols)
        .map(|k| Symbol::new(&format!("S{k}")))
        .collect();
    let stream = match kind {
        "trades" => {
            if overflow == Overflow::Conflate {
                return Err(Error::invalid_argument(
                    "overflow",
                    "trades cannot be conflated",
                ))
                .py_err(py);
            }
            let (tx, rx) = stream::channel(capacity, overflow);
            let make = move |i: u64, received: i64| Trade {
                source,
                symbol: names[(i % symbols) as usize],
                trade_id: Id::from_u64(i),
                price: Decimal::new(5_000_000 + (i % 1000) as i64, 2),
                qty: Decimal::new((i % 100) as i64 + 1, 3),
                side: if i.is_multiple_of(2) {
                    Side::Buy
                } else {
                    Side::Sell
                },
                exchange_time_ms: (i / 1000) as i64,
                local_time_ns: received,
            };
            crate::runtime::spawn(
                py,
                produce(tx, plan, make, sent.clone(), outcome_tx, cancel),
            )?;
            NativeStream::new(rx)
        }
        "tickers" => {
            let (tx, rx) = match overflow {
                Overflow::Conflate => stream::conflating(capacity, symbol_key),
                other => stream::channel(capacity, other),
            };
            let make = move |i: u64, received: i64| Ticker {
                source,
                symbol: names[(i % symbols) as usize],
                last: Decimal::from(i),
                bid: None,
                bid_qty: None,
                ask: None,
                ask_qty: None,
                volume_24h: Decimal::ZERO,
                quote_volume_24h: Decimal::ZERO,
                exchange_time_ms: 0,
                local_time_ns: received,
            };
            crate::runtime::spawn(
                py,
                produce(tx, plan, make, sent.clone(), outcome_tx, cancel),
            )?;
            NativeStream::new(rx)
        }
        other => {
            return Err(Error::invalid_argument(
                "kind",
                format!("'{other}' is not one of trades, tickers"),
            ))
            .py_err(py);
        }
    };
    Ok((
        stream,
        Producer {
            sent,
            outcome: outcome_rx,
        },
    ))
}

/// Raises the Python exception that the core error `kind` maps to, as the connectors do
/// (for tests of the mapping). The venue reply is Binance's -1003 "Too many requests."
#[pyfunction]
fn raise_core_error(py: Python<'_>, kind: &str) -> PyResult<()> {
    use tradewire_core::error::VenueReply;
    let reply = |status: u16| VenueReply {
        venue: Venue::Binance,
        code: Some(-1003),
        message: "Too many requests.".to_owned(),
        http_status: Some(status),
        request: Some("GET /api/v3/ticker/price".to_owned()),
    };
    let error = match kind {
        "exchange" => Error::Exchange(reply(400)),
        "rate_limited" => Error::RateLimited {
            reply: reply(429),
            retry_after: Some(Duration::from_millis(1500)),
        },
        "banned" => Error::Banned {
            reply: reply(418),
            until_ms: 1_700_000_060_000,
        },
        "auth" => Error::Auth(reply(401)),
        "order_not_found" => Error::OrderNotFound(reply(400)),
        "invalid_order" => Error::InvalidOrder {
            rule: "tick_size".to_owned(),
            message: "price 1.005 is not a multiple of tick size 0.01".to_owned(),
            reply: None,
        },
        "circuit_open" => Error::CircuitOpen {
            venue: Venue::Bybit,
            retry_in: Duration::from_secs(3),
        },
        "connection_lost" => Error::ConnectionLost("socket reset by peer".to_owned()),
        "timeout" => Error::Timeout {
            what: "POST /api/v3/order".to_owned(),
            after: Duration::from_secs(10),
        },
        "slow_consumer" => Error::SlowConsumer {
            capacity: 10,
            max_bytes: None,
        },
        "protocol" => Error::Protocol {
            venue: Venue::Bybit,
            reason: "missing field `seq`".to_owned(),
        },
        "closed" => Error::Closed,
        "failed" => Error::Failed("task 'binance/spot/clock' gave up after 10 restarts".to_owned()),
        other => Error::invalid_argument("kind", format!("unknown error kind '{other}'")),
    };
    Err(error).py_err(py)
}

/// An awaitable whose Rust future panics: what a call sees of a panic that escapes (a
/// `TradewireError`, never `RustPanic`).
#[pyfunction]
fn panicking_call(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    crate::runtime::future_into_py(py, async {
        if tradewire_core::model::now_ns() != 0 {
            panic!("injected panic");
        }
        Ok(())
    })
}

/// Makes the next supervised task whose name contains `name_part` panic (a long-lived one at
/// its next checkpoint, a one-shot one as it starts), to prove it is supervised. Each call is
/// one panic.
#[pyfunction]
fn arm_fault(name_part: &str) {
    tradewire_core::supervise::fault::arm(name_part);
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Producer>()?;
    m.add_function(wrap_pyfunction!(synthetic_stream, m)?)?;
    m.add_function(wrap_pyfunction!(raise_core_error, m)?)?;
    m.add_function(wrap_pyfunction!(arm_fault, m)?)?;
    m.add_function(wrap_pyfunction!(panicking_call, m)?)?;
    Ok(())
}
