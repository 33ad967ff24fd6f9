//! Bybit tapes: the synthetic market recorded as `orderbook.{1,50,200,1000}` messages (one per
//! step that changes a topic) and `publicTrade` messages, or a recorded JSON-lines file of
//! public-topic messages.

use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;

use super::ws::{book_json, trade_message};
use super::{BybitState, Category};
use crate::tape::{self, Frame, Tape};

/// Records `steps` steps of `symbol`'s synthetic market (see [`tape::record`]).
pub fn record(
    st: &BybitState,
    category: Category,
    symbol: &str,
    steps: usize,
    seed: u64,
) -> Result<Tape, String> {
    let mut views = st.books.views_of(category, symbol);
    let mut frames = Vec::new();
    let now = Instant::now();
    let (end, start) = tape::record(
        st.market(category),
        symbol,
        steps,
        seed,
        |state, _, trades, ts| {
            for (depth, view) in &mut views {
                // Depth 1's "unchanged for 3 s" resend is a timer, not a step: never on a tape.
                if let Some(m) =
                    view.advance(category, symbol, state, *depth, ts, now, Duration::MAX)
                {
                    frames.push(Frame {
                        symbol: symbol.to_owned(),
                        route: m.topic(),
                        text: book_json(&m),
                        id: m.u,
                    });
                }
            }
            for trade in trades {
                frames.push(Frame {
                    symbol: symbol.to_owned(),
                    route: format!("publicTrade.{symbol}"),
                    text: trade_message(category, trade, ts),
                    id: match trade {
                        crate::exchange::Event::Trade { id, .. } => *id,
                        _ => 0,
                    },
                });
            }
        },
    )?;
    let (name, books) = (symbol.to_owned(), st.books.clone());
    Ok(Tape::recorded(
        frames,
        (symbol.to_owned(), start),
        Box::new(move |ex| {
            tape::jump_to(ex, &name, end);
            books.set_views(category, &name, views);
        }),
    ))
}

#[derive(Deserialize)]
struct Message<'a> {
    topic: &'a str,
}

/// A tape of the public-topic messages (`orderbook`, `publicTrade`, `tickers`) in a JSON-lines
/// file, exactly as written. Other lines (acks, pongs, private topics, unlisted symbols) are
/// skipped and counted.
pub fn load(st: &BybitState, category: Category, jsonl: &str) -> (Tape, usize) {
    let listed = |symbol: &str| st.market(category).lock().symbols.contains_key(symbol);
    let mut frames = Vec::new();
    let mut skipped = 0;
    for line in jsonl.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let frame = serde_json::from_str::<Message>(line)
            .ok()
            .filter(|m| {
                ["orderbook.", "publicTrade.", "tickers."]
                    .iter()
                    .any(|p| m.topic.starts_with(p))
            })
            .and_then(|m| {
                let symbol = m.topic.rsplit('.').next()?;
                Some(Frame {
                    symbol: symbol.to_owned(),
                    route: m.topic.to_owned(),
                    text: line.to_owned(),
                    id: 0,
                })
            });
        match frame {
            Some(frame) if listed(&frame.symbol) => frames.push(frame),
            _ => skipped += 1,
        }
    }
    (Tape::loaded(frames), skipped)
}
