//! Binance tapes: the synthetic market recorded as one `depthUpdate` per step plus its
//! `trade`, `aggTrade` and `bookTicker` events, or a recorded JSON-lines file of raw events or
//! combined-stream frames.

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::BinanceState;
use super::decimals;
use super::ws::{book_ticker_event, depth_event, trade_event};
use crate::book::Side;
use crate::market::DepthDiff;
use crate::tape::{self, Frame, Tape};

/// Records `steps` steps of `symbol`'s synthetic market (see [`tape::record`]).
pub fn record(st: &BinanceState, symbol: &str, steps: usize, seed: u64) -> Result<Tape, String> {
    let spot = st.spot();
    let mut frames = Vec::new();
    let mut top = None;
    let mut push = |route: &str, event: Value, id: u64| {
        frames.push(Frame {
            symbol: symbol.to_owned(),
            route: route.to_owned(),
            text: event.to_string(),
            id,
        });
    };
    let (end, start) = tape::record(
        &st.market,
        symbol,
        steps,
        seed,
        |state, dirty, trades, now| {
            let decimals = decimals(spot, &state.spec);
            if let Some(diff) = DepthDiff::from_dirty(symbol, 0, &state.spec, dirty, now) {
                push(
                    "depth",
                    depth_event(spot, decimals, &diff, now),
                    diff.last_id,
                );
            }
            for trade in trades {
                let id = match trade {
                    crate::exchange::Event::Trade { id, .. } => *id,
                    _ => 0,
                };
                push("trade", trade_event(true, spot, decimals, trade, now), id);
                push(
                    "aggTrade",
                    trade_event(false, spot, decimals, trade, now),
                    id,
                );
            }
            let now_top = (state.top(Side::Buy), state.top(Side::Sell));
            if top != Some(now_top) {
                top = Some(now_top);
                push(
                    "bookTicker",
                    book_ticker_event(spot, decimals, symbol, state, now),
                    state.book.update_id,
                );
            }
        },
    )?;
    let name = symbol.to_owned();
    Ok(Tape::recorded(
        frames,
        (symbol.to_owned(), start),
        Box::new(move |ex| tape::jump_to(ex, &name, end)),
    ))
}

#[derive(Deserialize)]
struct Combined<'a> {
    stream: &'a str,
    #[serde(borrow)]
    data: &'a RawValue,
}

#[derive(Deserialize)]
struct Event<'a> {
    e: Option<&'a str>,
    s: Option<&'a str>,
    /// Present on spot `bookTicker` events, which have no `e`.
    u: Option<u64>,
}

/// The tape route of a stream name (`btcusdt@depth@100ms` → `depth`).
fn stream_route(stream: &str) -> Option<(String, &'static str)> {
    let (symbol, rest) = stream.split_once('@')?;
    let kind = rest.split('@').next()?;
    let route = match kind {
        "depth" => "depth",
        "trade" => "trade",
        "aggTrade" => "aggTrade",
        "bookTicker" => "bookTicker",
        "ticker" => "ticker",
        "miniTicker" => "miniTicker",
        _ => return None,
    };
    Some((symbol.to_ascii_uppercase(), route))
}

fn event_route(e: Option<&str>, u: Option<u64>) -> Option<&'static str> {
    Some(match e {
        Some("depthUpdate") => "depth",
        Some("trade") => "trade",
        Some("aggTrade") => "aggTrade",
        Some("bookTicker") => "bookTicker",
        Some("24hrTicker") => "ticker",
        Some("24hrMiniTicker") => "miniTicker",
        None if u.is_some() => "bookTicker",
        _ => return None,
    })
}

/// A tape of the market-stream events in a JSON-lines file, exactly as written. Lines that are
/// not such an event of a listed symbol (replies, user data, other symbols) are skipped and
/// counted.
pub fn load(st: &BinanceState, jsonl: &str) -> (Tape, usize) {
    let listed = |symbol: &str| st.market.lock().symbols.contains_key(symbol);
    let mut frames = Vec::new();
    let mut skipped = 0;
    for line in jsonl.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let frame = if let Ok(combined) = serde_json::from_str::<Combined>(line) {
            stream_route(combined.stream).map(|(symbol, route)| Frame {
                symbol,
                route: route.to_owned(),
                text: combined.data.get().to_owned(),
                id: 0,
            })
        } else if let Ok(event) = serde_json::from_str::<Event>(line) {
            event_route(event.e, event.u)
                .zip(event.s)
                .map(|(route, symbol)| Frame {
                    symbol: symbol.to_owned(),
                    route: route.to_owned(),
                    text: line.to_owned(),
                    id: 0,
                })
        } else {
            None
        };
        match frame {
            Some(frame) if listed(&frame.symbol) => frames.push(frame),
            _ => skipped += 1,
        }
    }
    (Tape::loaded(frames), skipped)
}
