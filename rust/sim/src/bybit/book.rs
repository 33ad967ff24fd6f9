//! Bybit `orderbook.{depth}.{symbol}` topics: each topic publishes the top `depth` levels as a
//! snapshot, then deltas against what it last published, with a per-topic `u` that increases
//! by one per message and `seq` (the book's cross sequence). Depth 1 is snapshot-only and is
//! re-sent with the same `u` after 3 s without change. A venue restart starts `u` over at 1.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rust_decimal::Decimal;
use tokio::sync::broadcast;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Category;
use crate::book::{Lots, Side, Ticks};
use crate::exchange::SymbolState;
use crate::market::{DepthAction, Market, StreamFaults};

/// The depths spot and linear both offer, pushed every 10, 20, 100 and 200 ms
/// (`Timing::bybit_depth_intervals`): bybit-exchange docs `v5/websocket/public/orderbook.mdx`
/// and changelog at 072c197 (level 1000 added 2025-08-14, futures level 500 removed 2025-09-11,
/// spot level 200 from 200 to 100 ms on 2026-03-19). Any other depth has no handler.
pub const DEPTHS: [usize; 4] = [1, 50, 200, 1000];

#[derive(Debug, Clone)]
pub struct BookMessage {
    pub category: Category,
    pub symbol: String,
    pub depth: usize,
    pub snapshot: bool,
    pub u: u64,
    pub seq: u64,
    pub ts: i64,
    pub bids: Vec<(Decimal, Decimal)>,
    pub asks: Vec<(Decimal, Decimal)>,
}

impl BookMessage {
    pub fn topic(&self) -> String {
        format!("orderbook.{}.{}", self.depth, self.symbol)
    }
}

#[derive(Debug, Clone, Default)]
pub struct View {
    u: u64,
    seq: u64,
    ts: i64,
    bids: BTreeMap<Ticks, Lots>,
    asks: BTreeMap<Ticks, Lots>,
    last_sent: Option<Instant>,
    restarted: bool,
    faults: StreamFaults,
    /// A delta held back (reorder fault), sent after the topic's next message.
    held: Option<BookMessage>,
}

type Key = (Category, String, usize);

impl View {
    /// The message that brings this topic's subscribers to `state`'s top `depth` levels: a
    /// snapshot first (and always at depth 1), then deltas; `None` when nothing changed.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn advance(
        &mut self,
        category: Category,
        symbol: &str,
        state: &SymbolState,
        depth: usize,
        ts: i64,
        now: Instant,
        resend_after: Duration,
    ) -> Option<BookMessage> {
        let bids: BTreeMap<Ticks, Lots> = state.book.levels(Side::Buy, depth).into_iter().collect();
        let asks: BTreeMap<Ticks, Lots> =
            state.book.levels(Side::Sell, depth).into_iter().collect();
        let changed = self.bids != bids || self.asks != asks;
        let first = self.last_sent.is_none() || self.restarted;
        let stale = self
            .last_sent
            .is_some_and(|t| now.duration_since(t) >= resend_after);
        if !(changed || first || (depth == 1 && stale)) {
            return None;
        }
        let snapshot = first || depth == 1;
        let spec = &state.spec;
        let diff = |old: &BTreeMap<Ticks, Lots>, new: &BTreeMap<Ticks, Lots>, descending: bool| {
            let mut out: BTreeMap<Ticks, Lots> = new
                .iter()
                .filter(|(p, q)| old.get(p) != Some(q))
                .map(|(p, q)| (*p, *q))
                .collect();
            for p in old.keys().filter(|p| !new.contains_key(p)) {
                out.insert(*p, 0);
            }
            levels(spec, &out, descending)
        };
        let (msg_bids, msg_asks) = if snapshot {
            (levels(spec, &bids, true), levels(spec, &asks, false))
        } else {
            (
                diff(&self.bids, &bids, true),
                diff(&self.asks, &asks, false),
            )
        };
        if changed || first {
            self.u += 1;
        }
        self.seq = state.book.update_id;
        self.ts = ts;
        self.bids = bids;
        self.asks = asks;
        self.last_sent = Some(now);
        self.restarted = false;
        Some(BookMessage {
            category,
            symbol: symbol.to_owned(),
            depth,
            snapshot,
            u: self.u,
            seq: self.seq,
            ts,
            bids: msg_bids,
            asks: msg_asks,
        })
    }
}

#[derive(Debug)]
pub struct Topics {
    views: Mutex<HashMap<Key, View>>,
    /// Topics someone subscribed to since start: only these are kept up to date (computing
    /// every depth of every symbol each interval would starve the machine under test).
    watched: Mutex<HashSet<Key>>,
    pub messages: broadcast::Sender<Arc<BookMessage>>,
}

impl Default for Topics {
    fn default() -> Self {
        Topics {
            views: Mutex::default(),
            watched: Mutex::default(),
            messages: broadcast::channel(1 << 14).0,
        }
    }
}

fn levels(
    spec: &crate::exchange::SymbolSpec,
    side: &BTreeMap<Ticks, Lots>,
    descending: bool,
) -> Vec<(Decimal, Decimal)> {
    let iter: Box<dyn Iterator<Item = (&Ticks, &Lots)>> = if descending {
        Box::new(side.iter().rev())
    } else {
        Box::new(side.iter())
    };
    iter.map(|(p, q)| (spec.price(*p), spec.qty(*q))).collect()
}

impl Topics {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, View>> {
        self.views.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps `symbol`'s topic at `depth` published from now on.
    pub fn watch(&self, category: Category, symbol: &str, depth: usize) {
        self.watched
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((category, symbol.to_owned(), depth));
    }

    /// What a new subscriber gets first: the topic as last published.
    pub fn snapshot(
        &self,
        market: &Market,
        category: Category,
        symbol: &str,
        depth: usize,
    ) -> Option<BookMessage> {
        let ex = market.lock();
        let spec = &ex.symbols.get(symbol)?.spec;
        let views = self.lock();
        let view = views.get(&(category, symbol.to_owned(), depth))?;
        Some(BookMessage {
            category,
            symbol: symbol.to_owned(),
            depth,
            snapshot: true,
            u: view.u,
            seq: view.seq,
            ts: view.ts,
            bids: levels(spec, &view.bids, true),
            asks: levels(spec, &view.asks, false),
        })
    }

    /// The topics of `symbol` as last published, by depth (for recording a tape).
    pub fn views_of(&self, category: Category, symbol: &str) -> Vec<(usize, View)> {
        let views = self.lock();
        DEPTHS
            .iter()
            .map(|d| {
                let view = views.get(&(category, symbol.to_owned(), *d));
                (*d, view.cloned().unwrap_or_default())
            })
            .collect()
    }

    /// Makes `views` the topics' last published state (a tape played up to them).
    pub fn set_views(&self, category: Category, symbol: &str, views: Vec<(usize, View)>) {
        let mut all = self.lock();
        for (depth, view) in views {
            all.insert((category, symbol.to_owned(), depth), view);
        }
    }

    /// Every topic starts over at `u` = 1 with a snapshot (the venue restarted).
    pub fn restart(&self) {
        for view in self.lock().values_mut() {
            view.u = 0;
            view.restarted = true;
        }
    }

    /// Publishes every topic of `category` at its depth's interval until `cancel`.
    pub fn run(
        self: &Arc<Self>,
        market: Arc<Market>,
        category: Category,
        intervals: [Duration; 4],
        cancel: CancellationToken,
    ) {
        let topics = self.clone();
        tokio::spawn(async move {
            let tick = intervals
                .iter()
                .min()
                .copied()
                .unwrap_or(Duration::from_millis(10))
                .max(Duration::from_millis(1));
            let mut interval = tokio::time::interval(tick);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let mut due = [Instant::now(); 4];
            let resend_after = Duration::from_secs(3);
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = interval.tick() => {}
                }
                let now = Instant::now();
                for (k, depth) in DEPTHS.iter().enumerate() {
                    if now < due[k] {
                        continue;
                    }
                    due[k] = now + intervals[k];
                    topics.publish(&market, category, *depth, now, resend_after);
                }
            }
        });
    }

    fn publish(
        &self,
        market: &Market,
        category: Category,
        depth: usize,
        now: Instant,
        resend_after: Duration,
    ) {
        let ts = market.clock.now_ms();
        let ex = market.lock();
        let mut outgoing = Vec::new();
        {
            let mut watched: Vec<Key> = (self.watched.lock().unwrap_or_else(|p| p.into_inner()))
                .iter()
                .filter(|(c, _, d)| *c == category && *d == depth)
                .cloned()
                .collect();
            watched.sort_unstable_by(|a, b| a.1.cmp(&b.1)); // a stable order for seeded runs
            let mut views = self.lock();
            for key in watched {
                let Some(state) = ex.symbols.get(&key.1) else {
                    continue;
                };
                let name = &key.1;
                let view = views.entry(key.clone()).or_default();
                let Some(message) =
                    view.advance(category, name, state, depth, ts, now, resend_after)
                else {
                    continue;
                };
                let topic_name = format!("{depth}.{name}");
                let action = if message.snapshot {
                    DepthAction::Send
                } else {
                    view.faults
                        .next(&market.faults, &[name.as_str(), topic_name.as_str()])
                };
                match action {
                    DepthAction::Skip => {}
                    DepthAction::HoldBack => {
                        if let Some(earlier) = view.held.replace(message) {
                            outgoing.push(earlier);
                        }
                    }
                    DepthAction::Send | DepthAction::Duplicate => {
                        if action == DepthAction::Duplicate {
                            outgoing.push(message.clone());
                        }
                        outgoing.push(message);
                        outgoing.extend(view.held.take());
                    }
                }
            }
        }
        drop(ex);
        for message in outgoing {
            let _ = self.messages.send(Arc::new(message));
        }
    }
}
