//! A running simulated market: the exchange state, its venue clock, limits and fault switches,
//! the synthetic-market driver and the depth publishers that batch book changes per stream
//! speed (Binance `@depth@100ms`, `@depth`, ...).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rust_decimal::Decimal;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use crate::book::Side;
use crate::clock::VenueClock;
use crate::exchange::{Exchange, Kind};
use crate::synth::Walk;

/// Book changes of one symbol over one publishing interval, venue-neutral.
#[derive(Debug, Clone)]
pub struct DepthDiff {
    pub symbol: String,
    /// Index into the market's publishing speeds.
    pub speed: usize,
    pub first_id: u64,
    pub last_id: u64,
    /// `last_id` of the previous diff of this symbol at this speed (USD-M `pu`).
    pub prev_last_id: u64,
    pub bids: Vec<(Decimal, Decimal)>,
    pub asks: Vec<(Decimal, Decimal)>,
    pub time_ms: i64,
}

impl DepthDiff {
    /// The diff a publisher's changes make; `None` if nothing changed.
    pub fn from_dirty(
        symbol: &str,
        speed: usize,
        spec: &crate::exchange::SymbolSpec,
        dirty: crate::book::Dirty,
        time_ms: i64,
    ) -> Option<DepthDiff> {
        let first_id = dirty.first_id?;
        let mut bids = Vec::new();
        let mut asks = Vec::new();
        for ((side, price), lots) in &dirty.levels {
            let level = (spec.price(*price), spec.qty(*lots));
            match side {
                Side::Buy => bids.push(level),
                Side::Sell => asks.push(level),
            }
        }
        bids.sort_by_key(|b| std::cmp::Reverse(b.0));
        asks.sort_by_key(|a| a.0);
        Some(DepthDiff {
            symbol: symbol.to_owned(),
            speed,
            first_id,
            last_id: dirty.last_id,
            prev_last_id: dirty.since,
            bids,
            asks,
            time_ms,
        })
    }
}

/// Fault switches a test flips through the control API.
#[derive(Debug)]
pub struct Faults {
    /// Bumped to drop every WebSocket connection of this market.
    pub drop_generation: watch::Sender<u64>,
    /// Bumped to have every Binance WebSocket API connection announce `serverShutdown` and
    /// close after the given delay.
    pub shutdown_notice: watch::Sender<(u64, std::time::Duration)>,
    /// While true, connections neither send nor read (but stay open).
    pub frozen: watch::Sender<bool>,
    /// The next n REST requests answer 503 / never answer.
    pub rest_5xx: AtomicU32,
    pub rest_hang: AtomicU32,
    /// The next n writes (non-GET requests) are carried out but never answered.
    pub lose_write_answers: AtomicU32,
    /// User-data events: the next n (of any user session of this market) are dropped, sent
    /// twice, or held back behind the session's following event.
    pub user_drop: AtomicU32,
    pub user_duplicate: AtomicU32,
    pub user_reorder: AtomicU32,
    /// The next n user-data events are sent cut in half: a frame nobody can read.
    pub user_garble: AtomicU32,
    /// Depth-stream faults; every book stream applies its own copy of the latest plan.
    pub depth: Mutex<DepthPlan>,
    /// Extra delay before every WebSocket message, in milliseconds.
    pub delay_ms: AtomicU64,
    /// Open WebSocket connections, each with its own drop / freeze switches.
    pub links: crate::wire::Links,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            drop_generation: watch::channel(0).0,
            shutdown_notice: watch::channel((0, std::time::Duration::ZERO)).0,
            frozen: watch::channel(false).0,
            rest_5xx: AtomicU32::new(0),
            rest_hang: AtomicU32::new(0),
            lose_write_answers: AtomicU32::new(0),
            user_drop: AtomicU32::new(0),
            user_duplicate: AtomicU32::new(0),
            user_reorder: AtomicU32::new(0),
            user_garble: AtomicU32::new(0),
            depth: Mutex::new(DepthPlan::default()),
            delay_ms: AtomicU64::new(0),
            links: crate::wire::Links::default(),
        }
    }
}

/// Takes one unit of a countdown fault; true if it applied.
pub fn take_one(counter: &AtomicU32) -> bool {
    counter
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
        .is_ok()
}

impl Faults {
    pub fn drop_connections(&self) {
        self.drop_generation.send_modify(|g| *g += 1);
    }

    /// Replaces the depth-fault plan; every targeted stream applies it from its next message.
    pub fn set_depth_plan(&self, skip: u32, duplicate: u32, reorder: u32, target: Option<String>) {
        let mut plan = self.depth.lock().unwrap_or_else(|p| p.into_inner());
        *plan = DepthPlan {
            generation: plan.generation + 1,
            skip,
            duplicate,
            reorder,
            target,
        };
    }

    pub fn depth_plan(&self) -> DepthPlan {
        self.depth.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// "The next `skip` diffs are dropped, the next `duplicate` sent twice, the next `reorder` held
/// back behind the one after": applied by each book stream (symbol × speed, or Bybit topic)
/// on its own, so a test's fault reaches the stream it watches whatever else is published.
#[derive(Debug, Clone, Default)]
pub struct DepthPlan {
    pub generation: u64,
    pub skip: u32,
    pub duplicate: u32,
    pub reorder: u32,
    /// A symbol, or for Bybit also `"DEPTH.SYMBOL"`; `None` targets every stream.
    pub target: Option<String>,
}

/// What one stream does with its next message under the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepthAction {
    Send,
    Skip,
    Duplicate,
    HoldBack,
}

/// One stream's progress through the current plan.
#[derive(Debug, Clone, Default)]
pub struct StreamFaults {
    generation: u64,
    skip: u32,
    duplicate: u32,
    reorder: u32,
}

impl StreamFaults {
    /// Decides the next message of a stream named by `names` (any of them may be targeted).
    pub fn next(&mut self, faults: &Faults, names: &[&str]) -> DepthAction {
        let plan = faults.depth_plan();
        if plan.generation != self.generation {
            let hit = plan.target.as_deref().is_none_or(|t| names.contains(&t));
            *self = StreamFaults {
                generation: plan.generation,
                ..StreamFaults::default()
            };
            if hit {
                (self.skip, self.duplicate, self.reorder) =
                    (plan.skip, plan.duplicate, plan.reorder);
            }
        }
        for (counter, action) in [
            (&mut self.skip, DepthAction::Skip),
            (&mut self.reorder, DepthAction::HoldBack),
            (&mut self.duplicate, DepthAction::Duplicate),
        ] {
            if *counter > 0 {
                *counter -= 1;
                return action;
            }
        }
        DepthAction::Send
    }
}

#[derive(Debug)]
pub struct Market {
    pub kind: Kind,
    pub exchange: Mutex<Exchange>,
    pub clock: Arc<VenueClock>,
    pub faults: Faults,
    /// Publishing intervals of depth diffs, fastest first.
    pub speeds: Vec<Duration>,
    pub depth: broadcast::Sender<Arc<DepthDiff>>,
    /// Bumped when the venue restarts (sequence numbers start over).
    pub restarts: AtomicU64,
    /// While set, the synthetic market makes no steps (publishers keep running).
    pub paused: std::sync::atomic::AtomicBool,
    /// The tape `play_tape` plays, and the play every connection follows.
    pub tape: Mutex<Option<Arc<crate::tape::Tape>>>,
    pub plays: watch::Sender<Option<Arc<crate::tape::Play>>>,
    /// REST requests served, by `METHOD /path` of a known endpoint (Bybit: both categories
    /// under spot, one host).
    pub rest_requests: Mutex<std::collections::BTreeMap<String, u64>>,
}

impl Market {
    /// Counts one request to a known endpoint.
    pub fn count_request(&self, method: &str, path: &str) {
        let mut counts = self.rest_requests.lock().unwrap_or_else(|p| p.into_inner());
        *counts.entry(format!("{method} {path}")).or_default() += 1;
    }

    pub fn new(
        kind: Kind,
        exchange: Exchange,
        clock: Arc<VenueClock>,
        speeds: Vec<Duration>,
    ) -> Arc<Market> {
        Arc::new(Market {
            kind,
            exchange: Mutex::new(exchange),
            clock,
            faults: Faults::default(),
            speeds,
            depth: broadcast::channel(1 << 14).0,
            restarts: AtomicU64::new(0),
            paused: std::sync::atomic::AtomicBool::new(false),
            tape: Mutex::new(None),
            plays: watch::channel(None).0,
            rest_requests: Mutex::default(),
        })
    }

    pub fn lock(&self) -> MutexGuard<'_, Exchange> {
        self.exchange.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs the synthetic market and the depth publishers until `cancel`.
    /// Runs the market on `seed`, its prices along the simulation's `reference_seed` path.
    pub fn start(
        self: &Arc<Self>,
        seed: u64,
        reference_seed: u64,
        steps_per_second: u32,
        cancel: CancellationToken,
    ) {
        let (mut walks, publishers) = {
            let mut ex = self.lock();
            let now_ms = self.clock.now_ms();
            for state in ex.symbols.values_mut() {
                state.candles.list(now_ms);
            }
            let names: Vec<String> = ex.symbols.keys().cloned().collect();
            let mut walks = Vec::new();
            for name in &names {
                let mut walk = Walk::new(&ex, name, seed, reference_seed);
                walk.seed_book(&mut ex);
                walks.push(walk);
            }
            // One dirty-set per symbol per speed.
            let publishers: Vec<Vec<usize>> = names
                .iter()
                .map(|n| {
                    let book = &mut ex.symbols.get_mut(n).expect("symbol").book;
                    self.speeds.iter().map(|_| book.add_publisher()).collect()
                })
                .collect();
            (walks, publishers)
        };
        let market = self.clone();
        tokio::spawn(async move {
            // Wake as rarely as the fastest duty allows: a step, or the fastest depth speed.
            let step_every = Duration::from_micros(1_000_000 / u64::from(steps_per_second.max(1)));
            let fastest = market
                .speeds
                .iter()
                .min()
                .copied()
                .unwrap_or(Duration::from_secs(1));
            let tick = step_every.min(fastest).max(Duration::from_millis(1));
            let mut interval = tokio::time::interval(tick);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let started = tokio::time::Instant::now();
            let mut steps_done = 0u64;
            let mut next_due: Vec<tokio::time::Instant> =
                market.speeds.iter().map(|s| started + *s).collect();
            let streams = publishers.len() * market.speeds.len();
            let mut held_back: Vec<Option<DepthDiff>> = vec![None; streams];
            let mut stream_faults: Vec<StreamFaults> = vec![StreamFaults::default(); streams];
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = interval.tick() => {}
                }
                let now = tokio::time::Instant::now();
                let now_ms = market.clock.now_ms();
                let mut ex = market.lock();
                let due_steps =
                    (now - started).as_micros() as u64 * u64::from(steps_per_second) / 1_000_000;
                let mut steps = due_steps.saturating_sub(steps_done).min(10_000);
                steps_done = due_steps;
                if market.paused.load(Ordering::Acquire) {
                    steps = 0;
                }
                for _ in 0..steps {
                    for walk in &mut walks {
                        walk.step(&mut ex, now_ms);
                    }
                }
                for (speed, every) in market.speeds.iter().enumerate() {
                    if now < next_due[speed] {
                        continue;
                    }
                    next_due[speed] = (next_due[speed] + *every).max(now);
                    for (k, walk) in walks.iter().enumerate() {
                        let state = ex.symbols.get_mut(&walk.symbol).expect("symbol");
                        let dirty = state.book.take_dirty(publishers[k][speed]);
                        let Some(diff) =
                            DepthDiff::from_dirty(&walk.symbol, speed, &state.spec, dirty, now_ms)
                        else {
                            continue;
                        };
                        let slot = k * market.speeds.len() + speed;
                        let action =
                            stream_faults[slot].next(&market.faults, &[walk.symbol.as_str()]);
                        market.publish_depth(diff, action, &mut held_back[slot]);
                    }
                }
            }
        });
    }

    /// Sends a diff as the stream's fault plan says.
    fn publish_depth(&self, diff: DepthDiff, action: DepthAction, held: &mut Option<DepthDiff>) {
        match action {
            DepthAction::Skip => return,
            DepthAction::HoldBack if held.is_none() => {
                *held = Some(diff);
                return;
            }
            _ => {}
        }
        let diff = Arc::new(diff);
        let _ = self.depth.send(diff.clone());
        if action == DepthAction::Duplicate {
            let _ = self.depth.send(diff);
        }
        if let Some(late) = held.take() {
            let _ = self.depth.send(Arc::new(late));
        }
    }

    pub fn kind_is_spot(&self) -> bool {
        self.kind == Kind::Spot
    }
}
