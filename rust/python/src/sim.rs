//! `tradewire.testing.Simulator`'s native half: starts the exchange simulator in-process on
//! the shared runtime and exposes its URLs, credentials, fault switches and ground truth.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::PyModule;
use tradewire_core::Error;
use tradewire_sim::binance::BinanceState;
use tradewire_sim::book::Side;
use tradewire_sim::market::Market as SimMarket;
use tradewire_sim::{SimConfig, Simulator, Timing};

use crate::errors::IntoPyResult;
use crate::model::{Balance, Fill, Level, Market, Order, Position, Venue};
use tradewire_core::model as m;
use tradewire_sim::exchange::{self as sx, Exchange};

/// `(rest, ws_public, ws_market, ws_private, ws_api)`.
type EndpointUrls = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// `(id, kind, streams, opened_ms)`.
type ConnectionRow = (u64, &'static str, Vec<String>, i64);

fn category(market: Market) -> tradewire_sim::bybit::Category {
    if market == Market::Spot {
        tradewire_sim::bybit::Category::Spot
    } else {
        tradewire_sim::bybit::Category::Linear
    }
}

fn no_connection<T>(py: Python<'_>, id: u64) -> PyResult<T> {
    Err(Error::invalid_argument(
        "connection",
        format!("no open connection {id}"),
    ))
    .py_err(py)
}

#[pyclass(module = "tradewire._native", frozen)]
pub struct NativeSimulator {
    inner: Arc<Simulator>,
}

impl NativeSimulator {
    fn binance(
        &self,
        py: Python<'_>,
        venue: Venue,
        market: Market,
    ) -> PyResult<&Arc<BinanceState>> {
        match (venue, market) {
            (Venue::Binance, Market::Spot) => Ok(&self.inner.binance_spot),
            (Venue::Binance, Market::Usdm) => Ok(&self.inner.binance_usdm),
            (v, m) => Err(Error::invalid_argument(
                "market",
                format!(
                    "{} {} is not simulated yet",
                    tradewire_core::model::Venue::from(v),
                    tradewire_core::model::Market::from(m)
                ),
            ))
            .py_err(py),
        }
    }

    /// The violations a market's limits count: Bybit's limits (per IP and account) cover both
    /// categories.
    fn violations_of(
        &self,
        py: Python<'_>,
        venue: Venue,
        market: Market,
    ) -> PyResult<&tradewire_sim::limits::Violations> {
        Ok(match venue {
            Venue::Bybit => &self.inner.bybit.limits.violations,
            Venue::Binance => &self.binance(py, venue, market)?.limits.violations,
        })
    }

    /// Faults of what a venue shares between its markets: Bybit serves both categories from one
    /// REST host and one private stream, whose faults the simulator keeps with spot.
    fn shared_faults(
        &self,
        py: Python<'_>,
        venue: Venue,
        market: Market,
    ) -> PyResult<&tradewire_sim::market::Faults> {
        let market = if venue == Venue::Bybit {
            Market::Spot
        } else {
            market
        };
        Ok(&self.market(py, venue, market)?.faults)
    }

    fn market(&self, py: Python<'_>, venue: Venue, market: Market) -> PyResult<&Arc<SimMarket>> {
        match (venue, market) {
            (Venue::Bybit, Market::Spot) => Ok(&self.inner.bybit.spot),
            (Venue::Bybit, Market::Linear) => Ok(&self.inner.bybit.linear),
            _ => self.binance(py, venue, market).map(|b| &b.market),
        }
    }
}

#[pymethods]
impl NativeSimulator {
    /// Starts every simulated venue on ephemeral 127.0.0.1 ports.
    /// `legacy_levels` puts that many levels a side on every symbol's book, deep and off the
    /// current tick and step grid, as real books keep orders from before a tick or step change.
    #[staticmethod]
    #[pyo3(signature = (*, seed = 7, steps_per_second = 50, time_scale = 1, extra_symbols = 0,
        connection_lifetime_ms = None, legacy_levels = 0))]
    fn start(
        py: Python<'_>,
        seed: u64,
        steps_per_second: u32,
        time_scale: u32,
        extra_symbols: usize,
        connection_lifetime_ms: Option<u64>,
        legacy_levels: usize,
    ) -> PyResult<Self> {
        let runtime = crate::runtime::runtime(py)?;
        let mut timing = Timing::scaled(time_scale);
        if let Some(ms) = connection_lifetime_ms {
            timing.max_connection_lifetime = Duration::from_millis(ms);
        }
        let mut config = SimConfig {
            seed,
            steps_per_second,
            timing,
            ..SimConfig::default()
        };
        if extra_symbols > 0 {
            config = config.with_many_symbols(extra_symbols);
        }
        if legacy_levels > 0 {
            config = config.with_legacy_levels(legacy_levels);
        }
        let started = py.detach(|| runtime.block_on(Simulator::start(config)));
        let inner = started.map_err(|e| {
            crate::errors::raise(
                py,
                "TradewireError",
                format!("simulator failed to start: {e}"),
            )
        })?;
        Ok(NativeSimulator {
            inner: Arc::new(inner),
        })
    }

    /// `(rest, ws_public, ws_market, ws_private, ws_api)` of a venue market.
    fn endpoints(&self, py: Python<'_>, venue: Venue, market: Market) -> PyResult<EndpointUrls> {
        self.market(py, venue, market)?;
        let e = match venue {
            Venue::Binance => self.inner.binance_endpoints(market == Market::Spot),
            Venue::Bybit => self.inner.bybit_endpoints(market == Market::Spot),
        };
        Ok((e.rest, e.ws_public, e.ws_market, e.ws_private, e.ws_api))
    }

    /// `(api_key, api_secret)` of the simulated account on a venue. `key_type="ed25519"`
    /// gives Binance's Ed25519 key of the same account (the secret is a PKCS#8 PEM private key).
    #[pyo3(signature = (venue, key_type = "hmac"))]
    fn credentials(
        &self,
        py: Python<'_>,
        venue: Venue,
        key_type: &str,
    ) -> PyResult<(String, String)> {
        let keys = match (venue, key_type) {
            (Venue::Binance, "hmac") => &self.inner.binance_credentials,
            (Venue::Binance, "ed25519") => &self.inner.binance_ed25519,
            (Venue::Bybit, "hmac") => &self.inner.bybit_credentials,
            (_, other) => {
                let reason =
                    format!("'{other}' is not one of hmac, ed25519 (ed25519: Binance only)");
                return Err(Error::invalid_argument("key_type", reason)).py_err(py);
            }
        };
        Ok((keys.api_key.clone(), keys.api_secret.clone()))
    }

    fn close(&self) {
        self.inner.shutdown();
    }

    /// Has every Binance WebSocket API connection of the market announce `serverShutdown` and
    /// close `close_after` seconds later.
    fn shutdown_notice(
        &self,
        py: Python<'_>,
        venue: Venue,
        market: Market,
        close_after: f64,
    ) -> PyResult<()> {
        let faults = &self.market(py, venue, market)?.faults;
        let delay = std::time::Duration::try_from_secs_f64(close_after)
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(format!("close_after: {e}")))?;
        faults
            .shutdown_notice
            .send_modify(|(n, after)| (*n, *after) = (n.wrapping_add(1), delay));
        Ok(())
    }

    /// Drops one WebSocket connection (`connection`, an id from `connections`) or every one of
    /// the market at once; no close frame, as when a network path dies.
    #[pyo3(signature = (venue, market, connection = None))]
    fn drop_connections(
        &self,
        py: Python<'_>,
        venue: Venue,
        market: Market,
        connection: Option<u64>,
    ) -> PyResult<()> {
        let faults = &self.market(py, venue, market)?.faults;
        match connection {
            None => faults.drop_connections(),
            Some(id) if faults.links.drop_one(id) => {}
            Some(id) => return no_connection(py, id),
        }
        Ok(())
    }

    /// Freezes (or thaws) one connection or every one of the market: nothing is read or sent,
    /// no pings, the sockets stay open. Thawing the market thaws connections frozen one by one
    /// too.
    #[pyo3(signature = (venue, market, frozen, connection = None))]
    fn freeze(
        &self,
        py: Python<'_>,
        venue: Venue,
        market: Market,
        frozen: bool,
        connection: Option<u64>,
    ) -> PyResult<()> {
        let faults = &self.market(py, venue, market)?.faults;
        match connection {
            None => {
                faults.frozen.send_replace(frozen);
                if !frozen {
                    faults.links.thaw_all();
                }
            }
            Some(id) if faults.links.freeze_one(id, frozen) => {}
            Some(id) => return no_connection(py, id),
        }
        Ok(())
    }

    /// The market's open WebSocket connections: `(id, kind, streams, opened_ms)`, oldest first.
    /// Bybit's private connections are listed under spot.
    fn connections(
        &self,
        py: Python<'_>,
        venue: Venue,
        market: Market,
    ) -> PyResult<Vec<ConnectionRow>> {
        let links = self.market(py, venue, market)?.faults.links.list();
        Ok(links
            .into_iter()
            .map(|l| (l.id, l.kind, l.streams, l.opened_ms))
            .collect())
    }

    /// The next `status_5xx` REST requests answer 503; the next `hang` never answer (an
    /// order-entry request on a WebSocket session is swallowed: not carried out, not
    /// answered); the next `lose_write_answers` writes (POST, PUT, DELETE, or order-entry
    /// requests, whose connection then drops) are carried out but never answered.
    #[pyo3(signature = (venue, market, *, status_5xx = 0, hang = 0, lose_write_answers = 0))]
    fn fail_rest(
        &self,
        py: Python<'_>,
        venue: Venue,
        market: Market,
        status_5xx: u32,
        hang: u32,
        lose_write_answers: u32,
    ) -> PyResult<()> {
        let f = self.shared_faults(py, venue, market)?;
        f.rest_5xx.store(status_5xx, Ordering::Release);
        f.rest_hang.store(hang, Ordering::Release);
        f.lose_write_answers
            .store(lose_write_answers, Ordering::Release);
        Ok(())
    }

    /// User-data events (any user session of the market): the next `drop` are never sent, the
    /// next `duplicate` are sent twice, the next `reorder` are held back behind the following
    /// one, the next `garble` are sent cut in half (unreadable).
    #[pyo3(signature = (venue, market, *, drop = 0, duplicate = 0, reorder = 0, garble = 0))]
    #[allow(clippy::too_many_arguments)]
    fn fail_user_events(
        &self,
        py: Python<'_>,
        venue: Venue,
        market: Market,
        drop: u32,
        duplicate: u32,
        reorder: u32,
        garble: u32,
    ) -> PyResult<()> {
        let f = self.shared_faults(py, venue, market)?;
        f.user_garble.store(garble, Ordering::Release);
        f.user_drop.store(drop, Ordering::Release);
        f.user_duplicate.store(duplicate, Ordering::Release);
        f.user_reorder.store(reorder, Ordering::Release);
        Ok(())
    }

    /// On every book stream (of `symbol` only, if given; for Bybit also `"DEPTH.SYMBOL"`, one
    /// topic), the next diffs are skipped, sent twice, or held back behind the following one.
    #[pyo3(signature = (venue, market, *, skip = 0, duplicate = 0, reorder = 0, symbol = None))]
    #[allow(clippy::too_many_arguments)]
    fn corrupt_depth(
        &self,
        py: Python<'_>,
        venue: Venue,
        market: Market,
        skip: u32,
        duplicate: u32,
        reorder: u32,
        symbol: Option<String>,
    ) -> PyResult<()> {
        self.market(py, venue, market)?
            .faults
            .set_depth_plan(skip, duplicate, reorder, symbol);
        Ok(())
    }

    /// Pauses (or resumes) the synthetic market; streams keep publishing what changed.
    fn pause(&self, py: Python<'_>, venue: Venue, market: Market, paused: bool) -> PyResult<()> {
        self.market(py, venue, market)?
            .paused
            .store(paused, Ordering::Release);
        Ok(())
    }

    /// Records a tape of `steps` steps of `symbol`'s synthetic market (deterministic from
    /// `seed`) and loads it; pauses the synthetic market so that the tape starts where the book
    /// is. Returns the number of frames.
    #[pyo3(signature = (venue, market, symbol, steps, *, seed = 1))]
    fn record_tape(
        &self,
        py: Python<'_>,
        venue: Venue,
        market: Market,
        symbol: &str,
        steps: usize,
        seed: u64,
    ) -> PyResult<usize> {
        let sim_market = self.market(py, venue, market)?.clone();
        let binance = match venue {
            Venue::Binance => Some(self.binance(py, venue, market)?),
            Venue::Bybit => None,
        };
        let recorded = py.detach(|| match binance {
            Some(st) => tradewire_sim::binance::tape::record(st, symbol, steps, seed),
            None => tradewire_sim::bybit::tape::record(
                &self.inner.bybit,
                category(market),
                symbol,
                steps,
                seed,
            ),
        });
        let tape = recorded
            .map_err(|reason| Error::invalid_argument("symbol", reason))
            .py_err(py)?;
        Ok(sim_market.load_tape(tape))
    }

    /// Loads the market-data messages of a recorded JSON-lines file as the tape; returns
    /// `(frames, skipped lines)`.
    fn load_tape(
        &self,
        py: Python<'_>,
        venue: Venue,
        market: Market,
        path: std::path::PathBuf,
    ) -> PyResult<(usize, usize)> {
        let sim_market = self.market(py, venue, market)?.clone();
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::invalid_argument("path", format!("{}: {e}", path.display())))
            .py_err(py)?;
        let (tape, skipped) = match venue {
            Venue::Binance => {
                tradewire_sim::binance::tape::load(self.binance(py, venue, market)?, &text)
            }
            Venue::Bybit => {
                tradewire_sim::bybit::tape::load(&self.inner.bybit, category(market), &text)
            }
        };
        Ok((sim_market.load_tape(tape), skipped))
    }

    /// Every open connection of the market plays the loaded tape: the frames it is subscribed
    /// to, in order, at `rate` frames per second of tape (None: as fast as its socket takes
    /// them). A recorded tape first moves the true book to the tape's end. Returns the number
    /// of frames. A rate is sent in 1 ms bursts (the timer's resolution) unless `precise`:
    /// then frame by frame, with a simulator thread spinning between frames.
    #[pyo3(signature = (venue, market, *, rate = None, precise = false))]
    fn play_tape(
        &self,
        py: Python<'_>,
        venue: Venue,
        market: Market,
        rate: Option<u32>,
        precise: bool,
    ) -> PyResult<usize> {
        self.market(py, venue, market)?
            .play_tape_paced(rate, precise)
            .map_err(|reason| Error::invalid_argument("tape", reason))
            .py_err(py)
    }

    /// The loaded tape's frames as `(route, id)` in tape order: the route is the Binance stream
    /// kind (`depth`, `trade`, `aggTrade`, `bookTicker`) or the Bybit topic; the id is the book
    /// update id (Binance `u`, the Bybit topic's `u`) or the trade id (0 in a loaded file).
    fn tape_frames(
        &self,
        py: Python<'_>,
        venue: Venue,
        market: Market,
    ) -> PyResult<Vec<(String, u64)>> {
        Ok(self.market(py, venue, market)?.tape_frames())
    }

    /// The current play's frames written to connections so far, in the order written, as
    /// `(route, id, ns)`: `ns` is the wall clock (`time.time_ns()`) when the session started
    /// writing the frame to the socket. A frame appears once per connection that took it. Only
    /// frames of `route` if given.
    #[pyo3(signature = (venue, market, route = None))]
    fn tape_sends(
        &self,
        py: Python<'_>,
        venue: Venue,
        market: Market,
        route: Option<&str>,
    ) -> PyResult<Vec<(String, u64, u64)>> {
        let sim_market = self.market(py, venue, market)?.clone();
        Ok(py.detach(|| sim_market.tape_sends(route)))
    }

    /// Delays every WebSocket message of the market by `ms`.
    fn set_delay_ms(&self, py: Python<'_>, venue: Venue, market: Market, ms: u64) -> PyResult<()> {
        self.market(py, venue, market)?
            .faults
            .delay_ms
            .store(ms, Ordering::Release);
        Ok(())
    }

    /// Skews the venue clock by `skew_ms` and lets it drift `drift_us_per_s` µs per second.
    #[pyo3(signature = (venue, *, skew_ms = 0, drift_us_per_s = 0))]
    fn set_clock(
        &self,
        py: Python<'_>,
        venue: Venue,
        skew_ms: i64,
        drift_us_per_s: i64,
    ) -> PyResult<()> {
        let clock = &self.market(py, venue, Market::Spot)?.clock;
        // Both markets of a venue share its clock.
        clock.set_skew_ms(skew_ms);
        clock.set_drift(drift_us_per_s);
        Ok(())
    }

    /// The venue clock minus real time, in ms.
    fn clock_offset_ms(&self, py: Python<'_>, venue: Venue) -> PyResult<i64> {
        Ok(self.market(py, venue, Market::Spot)?.clock.offset_ms())
    }

    /// The next `count` requests get a rate-limit answer (not counted as client violations).
    /// Bybit's limits are per account and IP, shared by both categories.
    fn force_rate_limit(
        &self,
        py: Python<'_>,
        venue: Venue,
        market: Market,
        count: u32,
    ) -> PyResult<()> {
        match venue {
            Venue::Bybit => self.inner.bybit.limits.force_10006(count),
            Venue::Binance => self.binance(py, venue, market)?.limits.force_429(count),
        }
        Ok(())
    }

    /// Bans the client now for `ms` milliseconds (not counted as a client violation).
    fn force_ban(&self, py: Python<'_>, venue: Venue, market: Market, ms: u64) -> PyResult<()> {
        let length = Duration::from_millis(ms);
        match venue {
            Venue::Bybit => self.inner.bybit.limits.force_ban(length),
            Venue::Binance => self.binance(py, venue, market)?.limits.force_ban(length),
        }
        Ok(())
    }

    fn lift_ban(&self, py: Python<'_>, venue: Venue, market: Market) -> PyResult<()> {
        match venue {
            Venue::Bybit => self.inner.bybit.limits.lift_ban(),
            Venue::Binance => self.binance(py, venue, market)?.limits.lift_ban(),
        }
        Ok(())
    }

    /// `(rate_limited, bans, while_banned)` counted against the client so far.
    fn violations(
        &self,
        py: Python<'_>,
        venue: Venue,
        market: Market,
    ) -> PyResult<(u64, u64, u64)> {
        Ok(self.violations_of(py, venue, market)?.snapshot())
    }

    /// When each request refused while banned arrived (Unix ms, oldest first; the latest
    /// 100,000) and its path (`"rest"`, `"ws-api"`): Bybit's one IP ban covers both categories.
    fn ban_refusals(
        &self,
        py: Python<'_>,
        venue: Venue,
        market: Market,
    ) -> PyResult<Vec<(i64, &'static str)>> {
        Ok(self
            .violations_of(py, venue, market)?
            .refusals()
            .into_iter()
            .map(|(at, path)| (at, path.name()))
            .collect())
    }

    /// REST requests served so far, by `"METHOD /path"` of a known endpoint, and WebSocket
    /// order-entry requests as `"WS METHOD /path"` of the endpoint they mirror (Bybit: one host
    /// for both categories, listed under spot).
    fn rest_requests(
        &self,
        py: Python<'_>,
        venue: Venue,
        market: Market,
    ) -> PyResult<std::collections::BTreeMap<String, u64>> {
        let counts = &self.market(py, venue, market)?.rest_requests;
        Ok(counts.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }

    /// Topics clients have unsubscribed from on this market (Bybit).
    fn unsubscribed(&self, py: Python<'_>, venue: Venue, market: Market) -> PyResult<u64> {
        let faults = &self.market(py, venue, market)?.faults;
        Ok(faults.links.unsubscribed.load(Ordering::Relaxed))
    }

    /// WebSocket connection attempts refused for exceeding the venue's per-window limit (one
    /// count per server: Binance spot, Binance USD-M, Bybit).
    fn connections_refused(&self, venue: Venue, market: Market) -> u64 {
        let server = match (venue, market) {
            (Venue::Binance, Market::Spot) => 0,
            (Venue::Binance, _) => 1,
            (Venue::Bybit, _) => 2,
        };
        self.inner.connects[server].refused.load(Ordering::Relaxed)
    }

    /// Expires every Binance USD-M listen key now (their streams get `listenKeyExpired`).
    fn expire_listen_keys(&self) {
        let usdm = &self.inner.binance_usdm;
        let now = usdm.market.clock.now_ms();
        for (_, expires) in usdm
            .listen_keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values_mut()
        {
            *expires = now;
        }
    }

    /// Restarts the venue. Bybit: book topics start over at u=1 with a snapshot, on the open
    /// connections. Binance: every connection drops.
    fn restart(&self, py: Python<'_>, venue: Venue) -> PyResult<()> {
        match venue {
            Venue::Bybit => self.inner.bybit.books.restart(),
            Venue::Binance => {
                for market in [Market::Spot, Market::Usdm] {
                    self.binance(py, venue, market)?
                        .market
                        .faults
                        .drop_connections();
                }
            }
        }
        Ok(())
    }

    /// Publishes a new tick and/or step for `symbol` (Decimal, str or int; a float is refused):
    /// exchangeInfo / instruments-info answer with them from now on and new orders are
    /// validated against them, while resting orders keep their prices and quantities.
    #[pyo3(signature = (venue, market, symbol, *, tick = None, step = None))]
    fn set_symbol_rules(
        &self,
        py: Python<'_>,
        venue: Venue,
        market: Market,
        symbol: &str,
        tick: Option<&Bound<'_, PyAny>>,
        step: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let tick = crate::convert::extract_opt_decimal(tick, "tick")?;
        let step = crate::convert::extract_opt_decimal(step, "step")?;
        let sim_market = self.market(py, venue, market)?;
        let changed = sim_market.lock().set_rules(symbol, tick, step);
        changed
            .map_err(|e| {
                let field = match &e {
                    sx::RulesError::UnknownSymbol(_) => "symbol",
                    sx::RulesError::NotPositive { field, .. }
                    | sx::RulesError::FinerThanUnit { field, .. } => *field,
                };
                Error::invalid_argument(field, e.to_string())
            })
            .py_err(py)
    }

    /// Market flow: another trader's taker of `qty` on `side` ("BUY" sweeps the asks) up to
    /// `limit` (any price if None). The account's resting orders it meets trade, and the
    /// triggers it reaches fire.
    #[pyo3(signature = (venue, market, symbol, side, qty, *, limit = None))]
    #[allow(clippy::too_many_arguments)]
    fn take(
        &self,
        py: Python<'_>,
        venue: Venue,
        market: Market,
        symbol: &str,
        side: crate::model::Side,
        qty: &Bound<'_, PyAny>,
        limit: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let qty = crate::convert::extract_decimal(qty, "qty")?;
        let limit = crate::convert::extract_opt_decimal(limit, "limit")?;
        let sim_market = self.market(py, venue, market)?;
        let now = sim_market.clock.now_ms();
        let mut ex = sim_market.lock();
        let Some(spec) = ex.symbols.get(symbol).map(|s| s.spec.clone()) else {
            return Err(Error::invalid_argument(
                "symbol",
                format!("{symbol} is not listed"),
            ))
            .py_err(py);
        };
        let off_grid = |field: &str| Error::invalid_argument(field, "not on the book's grid");
        let lots = spec
            .qty_units(qty)
            .ok_or_else(|| off_grid("qty"))
            .py_err(py)?;
        let limit = match limit {
            Some(p) => Some(
                spec.price_units(p)
                    .ok_or_else(|| off_grid("limit"))
                    .py_err(py)?,
            ),
            None => None,
        };
        let side = if m::Side::from(side) == m::Side::Buy {
            Side::Buy
        } else {
            Side::Sell
        };
        ex.synthetic_take(symbol, side, limit, lots, now);
        Ok(())
    }

    /// The true book: `(update_id, bids best first, asks best first)`.
    #[pyo3(signature = (venue, market, symbol, depth = 1000))]
    fn book(
        &self,
        py: Python<'_>,
        venue: Venue,
        market: Market,
        symbol: &str,
        depth: usize,
    ) -> PyResult<(u64, Vec<Level>, Vec<Level>)> {
        let m = self.market(py, venue, market)?;
        let ex = m.lock();
        let state = truth_symbol(py, &ex, symbol)?;
        let side = |s| -> Vec<Level> {
            state
                .book
                .levels(s, depth)
                .into_iter()
                .map(|(p, q)| {
                    Level(tradewire_core::model::Level {
                        price: state.spec.price(p),
                        qty: state.spec.qty(q),
                    })
                })
                .collect()
        };
        Ok((state.book.update_id, side(Side::Buy), side(Side::Sell)))
    }

    /// The true candles of `symbol` at `interval` (Binance's names) opening in
    /// `start_ms..=end_ms`, oldest first; the current one open.
    #[pyo3(signature = (venue, market, symbol, interval, start_ms = None, end_ms = None))]
    #[allow(clippy::too_many_arguments)]
    fn candles(
        &self,
        py: Python<'_>,
        venue: Venue,
        market: Market,
        symbol: &str,
        interval: crate::model::Interval,
        start_ms: Option<i64>,
        end_ms: Option<i64>,
    ) -> PyResult<Vec<crate::model::Kline>> {
        let m = self.market(py, venue, market)?;
        let interval: m::Interval = interval.into();
        let span = sx::candles::Span::binance(interval.as_str(), true)
            .expect("every interval has a Binance name");
        let now = m.clock.now_ms();
        let ex = m.lock();
        let state = truth_symbol(py, &ex, symbol)?;
        let source = m::Source {
            venue: venue.into(),
            market: market.into(),
        };
        let candles = state
            .candles
            .range(span, start_ms, end_ms, now, 100_000, true);
        Ok(candles
            .into_iter()
            .map(|c| {
                crate::model::Kline(m::Kline {
                    source,
                    symbol: symbol.into(),
                    interval,
                    open_time_ms: c.open_ms,
                    close_time_ms: c.close_ms,
                    open: c.open,
                    high: c.high,
                    low: c.low,
                    close: c.close,
                    volume: c.volume,
                    quote_volume: c.quote_volume,
                    trades: Some(c.trades),
                    taker_buy_volume: Some(c.taker_buy_volume),
                    taker_buy_quote_volume: Some(c.taker_buy_quote_volume),
                    closed: c.close_ms < now,
                    exchange_time_ms: now,
                    local_time_ns: 0,
                })
            })
            .collect())
    }
}

/// A symbol of the simulated market, or the `InvalidArgument` naming it.
fn truth_symbol<'a>(
    py: Python<'_>,
    ex: &'a Exchange,
    symbol: &str,
) -> PyResult<&'a sx::SymbolState> {
    ex.symbols.get(symbol).ok_or_else(|| {
        crate::errors::to_pyerr(
            py,
            Error::invalid_argument("symbol", format!("unknown symbol '{symbol}'")),
        )
    })
}

/// The simulator's order as a tradewire `Order` (ground truth for tests).
fn truth_order(ex: &Exchange, o: &sx::Order, source: m::Source) -> m::Order {
    let spec = &ex.symbols[&o.symbol].spec;
    let filled = spec.qty(o.filled);
    let status = match o.status {
        sx::Status::Untriggered => m::OrderStatus::Untriggered,
        sx::Status::Triggered => m::OrderStatus::Triggered,
        sx::Status::New => m::OrderStatus::New,
        sx::Status::PartiallyFilled => m::OrderStatus::PartiallyFilled,
        sx::Status::Filled => m::OrderStatus::Filled,
        sx::Status::Canceled => m::OrderStatus::Canceled,
        sx::Status::Rejected => m::OrderStatus::Rejected,
        sx::Status::Expired => m::OrderStatus::Expired,
    };
    let tif = match o.tif {
        sx::Tif::Gtc => m::TimeInForce::Gtc,
        sx::Tif::Ioc => m::TimeInForce::Ioc,
        sx::Tif::Fok => m::TimeInForce::Fok,
        sx::Tif::PostOnly => m::TimeInForce::PostOnly,
    };
    let order_id = if source.venue == m::Venue::Bybit {
        tradewire_sim::bybit::order_id_str(o.id)
    } else {
        o.shown_id().to_string()
    };
    m::Order {
        source,
        symbol: m::Symbol::new(&o.symbol),
        order_id: m::Id::new(&order_id),
        client_order_id: m::Id::new(&o.client_id),
        side: if o.side == Side::Buy {
            m::Side::Buy
        } else {
            m::Side::Sell
        },
        order_type: if o.kind == sx::OrderKind::Market {
            m::OrderType::Market
        } else {
            m::OrderType::Limit
        },
        time_in_force: Some(tif),
        price: o.price.map(|p| spec.price(p)),
        qty: (o.lots > 0).then(|| spec.qty(o.lots)),
        quote_qty: o.quote_qty,
        filled_qty: filled,
        avg_price: (o.filled > 0).then(|| o.cum_quote / filled),
        status,
        reduce_only: o.reduces(),
        position_side: leg_side(o.leg),
        trigger: o.trigger.map(|t| m::Trigger {
            price: t.price,
            direction: Some(if t.rises {
                m::TriggerDirection::Rise
            } else {
                m::TriggerDirection::Fall
            }),
            by: watched(t.by),
            // A percentage trail's rate (a price-distance one is its position's own, not a rate).
            trailing: o.trail.filter(|t| t.percent).map(|t| t.distance),
        }),
        created_time_ms: o.created_ms,
        updated_time_ms: o.updated_ms,
        reject_reason: o.reject.map(str::to_owned),
        parent_client_order_id: o
            .child
            .as_ref()
            .filter(|c| !c.parent_client_id.is_empty())
            .map(|c| m::Id::from(c.parent_client_id.as_str())),
        take_profit: o.exits.take_profit.map(exit),
        stop_loss: o.exits.stop_loss.map(exit),
    }
}

fn watched(w: sx::Watch) -> m::TriggerBy {
    match w {
        sx::Watch::Last => m::TriggerBy::Last,
        sx::Watch::Mark => m::TriggerBy::Mark,
        sx::Watch::Index => m::TriggerBy::Index,
    }
}

fn exit(e: sx::Exit) -> m::Exit {
    m::Exit {
        trigger: e.trigger,
        price: e.limit,
        by: watched(e.by),
    }
}

#[pymethods]
impl NativeSimulator {
    /// Ground truth: every order of the simulated account on a market, oldest first.
    fn orders(&self, py: Python<'_>, venue: Venue, market: Market) -> PyResult<Vec<Order>> {
        let source = m::Source {
            venue: venue.into(),
            market: market.into(),
        };
        let ex = self.market(py, venue, market)?.lock();
        let mut orders: Vec<&sx::Order> = ex.orders.values().filter(|o| o.account == 0).collect();
        orders.sort_by_key(|o| o.id);
        Ok(orders
            .into_iter()
            .map(|o| Order(truth_order(&ex, o, source)))
            .collect())
    }

    /// Ground truth: every execution of the simulated account's orders on a market, oldest
    /// first, named as the venue names them.
    fn fills(&self, py: Python<'_>, venue: Venue, market: Market) -> PyResult<Vec<Fill>> {
        let source = m::Source {
            venue: venue.into(),
            market: market.into(),
        };
        let ex = self.market(py, venue, market)?.lock();
        let mut fills: Vec<(i64, u64, m::Fill)> = Vec::new();
        for o in ex.orders.values().filter(|o| o.account == 0) {
            let order = truth_order(&ex, o, source);
            for f in &o.fills {
                let trade_id = if source.venue == m::Venue::Bybit {
                    tradewire_sim::bybit::rest::exec_id(o.id, f.trade_id)
                } else {
                    f.trade_id.to_string()
                };
                let fill = m::Fill {
                    source,
                    symbol: order.symbol,
                    order_id: order.order_id.clone(),
                    client_order_id: order.client_order_id.clone(),
                    trade_id: m::Id::new(&trade_id),
                    side: order.side,
                    price: f.price,
                    qty: f.qty,
                    fee: f.fee,
                    fee_asset: f.fee_asset.clone(),
                    is_maker: f.is_maker,
                    exchange_time_ms: f.time_ms,
                };
                fills.push((f.time_ms, f.trade_id, fill));
            }
        }
        fills.sort_by_key(|f| (f.0, f.1));
        Ok(fills.into_iter().map(|f| Fill(f.2)).collect())
    }

    /// Ground truth: the public trades of `symbol` the venue still lists (its latest 100,000),
    /// oldest first.
    fn trades(
        &self,
        py: Python<'_>,
        venue: Venue,
        market: Market,
        symbol: &str,
    ) -> PyResult<Vec<crate::model::Trade>> {
        let source = m::Source {
            venue: venue.into(),
            market: market.into(),
        };
        let ex = self.market(py, venue, market)?.lock();
        let state = truth_symbol(py, &ex, symbol)?;
        let symbol = m::Symbol::from_wire(symbol).map_err(|e| {
            crate::errors::to_pyerr(py, Error::invalid_argument("symbol", e.to_string()))
        })?;
        Ok(state
            .recent_trades
            .iter()
            .map(|&(id, price, qty, taker, time)| {
                crate::model::Trade(m::Trade {
                    source,
                    symbol,
                    trade_id: m::Id::new(&id.to_string()),
                    price,
                    qty,
                    side: if taker == Side::Buy {
                        m::Side::Buy
                    } else {
                        m::Side::Sell
                    },
                    exchange_time_ms: time,
                    local_time_ns: 0,
                })
            })
            .collect())
    }

    /// Ground truth: the account's balances on a market (free and locked per asset).
    fn balances(&self, py: Python<'_>, venue: Venue, market: Market) -> PyResult<Vec<Balance>> {
        let ex = self.market(py, venue, market)?.lock();
        Ok(ex.accounts[0]
            .balances
            .iter()
            .map(|(asset, b)| {
                Balance(m::Balance {
                    venue: venue.into(),
                    market: market.into(),
                    asset: asset.clone(),
                    free: b.free,
                    locked: b.locked,
                    exchange_time_ms: 0,
                })
            })
            .collect())
    }

    /// Ground truth: the account's open positions on a derivatives market.
    fn positions(&self, py: Python<'_>, venue: Venue, market: Market) -> PyResult<Vec<Position>> {
        let source = m::Source {
            venue: venue.into(),
            market: market.into(),
        };
        let ex = self.market(py, venue, market)?.lock();
        Ok(ex.accounts[0]
            .positions
            .iter()
            .filter(|(_, p)| !p.size.is_zero())
            .map(|((symbol, leg), p)| {
                let leverage = ex.leverage(0, symbol);
                let (take_profit, stop_loss) = ex.position_exits(0, symbol, *leg);
                Position(m::Position {
                    source,
                    symbol: m::Symbol::new(symbol),
                    side: if p.size.is_sign_positive() {
                        m::PositionSide::Long
                    } else {
                        m::PositionSide::Short
                    },
                    position_side: leg_side(*leg),
                    size: p.size.abs(),
                    entry_price: p.entry,
                    unrealized_pnl: ex.unrealized(0, symbol, *leg),
                    leverage,
                    liquidation_price: None,
                    mark_price: Some(ex.mark(symbol)),
                    realized_pnl: Some(p.realized),
                    initial_margin: Some(p.size.abs() * ex.mark(symbol) / leverage),
                    maintenance_margin: None,
                    exchange_time_ms: p.updated_ms,
                    stop_loss,
                    take_profit,
                    trailing_stop: ex.position_trail(0, symbol, *leg),
                })
            })
            .collect())
    }
}

/// A simulator position leg as the model names it (none in one-way mode).
fn leg_side(leg: sx::Leg) -> Option<m::PositionSide> {
    match leg {
        sx::Leg::Both => None,
        sx::Leg::Long => Some(m::PositionSide::Long),
        sx::Leg::Short => Some(m::PositionSide::Short),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeSimulator>()?;
    Ok(())
}
