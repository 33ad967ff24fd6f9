//! `tradewire.Binance` / `tradewire.Bybit`'s native half: starts a core `Connector` on the
//! shared runtime and exposes its requests, health snapshot and events to asyncio.

use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyModule};
use tokio::sync::{Mutex, broadcast};
use tradewire_core::Error;
use tradewire_core::connector::{Connector, ConnectorConfig, ConnectorEvent, Transport};
use tradewire_core::net::{Method, Request, WsEvent};
use tradewire_core::resilience::{BreakerConfig, BreakerState, LimitEvent, Priority};
use tradewire_core::supervise::HealthEvent;
use tradewire_core::venue::Credentials;

use crate::convert::extract_opt_decimal;
use crate::errors::{IntoPyResult, to_pyerr};
use crate::model::{
    Interval, Market, OrderType, PositionSide, Side, TimeInForce, TriggerBy, TriggerKind, Venue,
};
use tradewire_core::model::Id;
use tradewire_core::orders::{NewOrder, Oco, OrderRef};

/// Exactly one of the two ids names an order.
/// An order's fields from Python, before its symbol is known to be listed.
pub(crate) struct Draft {
    side: Side,
    order_type: OrderType,
    qty: Option<tradewire_core::model::Decimal>,
    quote_qty: Option<tradewire_core::model::Decimal>,
    price: Option<tradewire_core::model::Decimal>,
    time_in_force: Option<TimeInForce>,
    post_only: bool,
    reduce_only: bool,
    position_side: Option<PositionSide>,
    trigger: Option<(tradewire_core::model::Decimal, TriggerKind, TriggerBy)>,
    /// A trailing stop's callback rate (percent).
    trailing: Option<tradewire_core::model::Decimal>,
    close_position: bool,
    take_profit: Option<tradewire_core::model::Exit>,
    stop_loss: Option<tradewire_core::model::Exit>,
}

impl Draft {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        side: Side,
        order_type: OrderType,
        qty: Option<&Bound<'_, PyAny>>,
        quote_qty: Option<&Bound<'_, PyAny>>,
        price: Option<&Bound<'_, PyAny>>,
        time_in_force: Option<TimeInForce>,
        post_only: bool,
        reduce_only: bool,
        position_side: Option<PositionSide>,
    ) -> PyResult<Draft> {
        Ok(Draft {
            side,
            order_type,
            qty: extract_opt_decimal(qty, "qty")?,
            quote_qty: extract_opt_decimal(quote_qty, "quote_qty")?,
            price: extract_opt_decimal(price, "price")?,
            time_in_force,
            post_only,
            reduce_only,
            position_side,
            trigger: None,
            trailing: None,
            close_position: false,
            take_profit: None,
            stop_loss: None,
        })
    }

    /// Makes it a trailing stop of `rate` percent (then [`Draft::triggered`]: its trigger
    /// price is the price that activates it, active from placement without one).
    pub(crate) fn trailing(mut self, rate: Option<&Bound<'_, PyAny>>) -> PyResult<Draft> {
        self.trailing = extract_opt_decimal(rate, "callback_rate")?;
        Ok(self)
    }

    /// Attaches a take-profit and/or stop-loss to an entry.
    pub(crate) fn exits(
        mut self,
        take_profit: Option<PyRef<'_, crate::model::Exit>>,
        stop_loss: Option<PyRef<'_, crate::model::Exit>>,
    ) -> Draft {
        self.take_profit = take_profit.map(|e| e.0);
        self.stop_loss = stop_loss.map(|e| e.0);
        self
    }

    /// Makes a conditional order one that closes the whole position it meets.
    pub(crate) fn closing(mut self, close_position: bool) -> Draft {
        self.close_position = close_position;
        self
    }

    /// Makes it a conditional order of `kind` at `price`, watching `by` (the last price if
    /// None).
    pub(crate) fn triggered(
        mut self,
        price: Option<&Bound<'_, PyAny>>,
        kind: Option<TriggerKind>,
        by: Option<TriggerBy>,
    ) -> PyResult<Draft> {
        self.trigger = match (extract_opt_decimal(price, "trigger_price")?, kind) {
            (Some(price), Some(kind)) => Some((price, kind, by.unwrap_or(TriggerBy::Last))),
            (None, Some(kind)) if self.trailing.is_some() => Some((
                tradewire_core::model::Decimal::ZERO,
                kind,
                by.unwrap_or(TriggerBy::Last),
            )),
            (None, None) if by.is_none() && self.trailing.is_none() => None,
            _ => {
                return Err(py_err(tradewire_core::Error::invalid_argument(
                    "trigger_price",
                    "a conditional order needs trigger_price and trigger_kind",
                )));
            }
        };
        Ok(self)
    }

    pub(crate) fn order(
        self,
        symbol: tradewire_core::model::Symbol,
        client_order_id: Id,
    ) -> NewOrder {
        NewOrder {
            symbol,
            side: self.side.into(),
            order_type: self.order_type.into(),
            qty: self.qty,
            quote_qty: self.quote_qty,
            price: self.price,
            time_in_force: self.time_in_force.map(Into::into),
            post_only: self.post_only,
            reduce_only: self.reduce_only,
            position_side: self.position_side.map(Into::into),
            trigger: self
                .trigger
                .map(|(price, kind, by)| tradewire_core::model::Trigger {
                    price,
                    direction: Some(
                        tradewire_core::model::TriggerKind::from(kind).direction(self.side.into()),
                    ),
                    by: by.into(),
                    trailing: self.trailing,
                }),
            client_order_id,
            close_position: self.close_position,
            stop_loss: self.stop_loss,
            take_profit: self.take_profit,
        }
    }
}

impl Draft {
    /// A replacement LIMIT order's fields (its side, if not given, is the old order's: Buy
    /// here stands in until that is read).
    pub(crate) fn replacement(
        side: Option<Side>,
        qty: &Bound<'_, PyAny>,
        price: &Bound<'_, PyAny>,
        time_in_force: Option<TimeInForce>,
        post_only: bool,
    ) -> PyResult<Draft> {
        Draft::new(
            side.unwrap_or(Side::Buy),
            OrderType::Limit,
            Some(qty),
            None,
            Some(price),
            time_in_force,
            post_only,
            false,
            None,
        )
    }
}

/// An amendment's arguments from Python.
pub(crate) struct Amend {
    pub(crate) which: OrderRef,
    pub(crate) qty: Option<tradewire_core::model::Decimal>,
    pub(crate) price: Option<tradewire_core::model::Decimal>,
}

impl Amend {
    pub(crate) fn new(
        py: Python<'_>,
        order_id: Option<String>,
        client_order_id: Option<String>,
        qty: Option<&Bound<'_, PyAny>>,
        price: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Amend> {
        Ok(Amend {
            which: order_ref(order_id, client_order_id).py_err(py)?,
            qty: extract_opt_decimal(qty, "qty")?,
            price: extract_opt_decimal(price, "price")?,
        })
    }
}

/// One order of a batch from Python: `(symbol, side, order_type, qty, quote_qty, price,
/// time_in_force, post_only, reduce_only, position_side, client_order_id)`.
pub(crate) type BatchItem<'py> = (
    String,
    Side,
    OrderType,
    Option<Bound<'py, PyAny>>,
    Option<Bound<'py, PyAny>>,
    Option<Bound<'py, PyAny>>,
    Option<TimeInForce>,
    bool,
    bool,
    Option<PositionSide>,
    Option<String>,
);

/// A batch item's symbol, fields and client order id (checked now: a bad one fails the call).
pub(crate) trait BatchDraft {
    fn draft(
        self,
        client_id: impl Fn(Option<&str>) -> Result<Id, Error>,
    ) -> PyResult<(String, Draft, Id)>;
}

impl BatchDraft for BatchItem<'_> {
    fn draft(
        self,
        client_id: impl Fn(Option<&str>) -> Result<Id, Error>,
    ) -> PyResult<(String, Draft, Id)> {
        let (symbol, side, kind, qty, quote_qty, price, tif, post_only, reduce_only, leg, id) =
            self;
        let draft = Draft::new(
            side,
            kind,
            qty.as_ref(),
            quote_qty.as_ref(),
            price.as_ref(),
            tif,
            post_only,
            reduce_only,
            leg,
        )?;
        let id = client_id(id.as_deref()).map_err(py_err)?;
        Ok((symbol, draft, id))
    }
}

/// One amendment of a batch from Python: `(order_id, client_order_id, qty, price)`.
pub(crate) type AmendItem<'py> = (
    Option<String>,
    Option<String>,
    Option<Bound<'py, PyAny>>,
    Option<Bound<'py, PyAny>>,
);

/// An amendment as the core takes it: the order, its new quantity and price.
type Amendment = (
    OrderRef,
    Option<tradewire_core::model::Decimal>,
    Option<tradewire_core::model::Decimal>,
);

/// A batch's amendments, checked now (a bad argument fails the call).
pub(crate) fn amend_items(py: Python<'_>, items: Vec<AmendItem<'_>>) -> PyResult<Vec<Amendment>> {
    items
        .into_iter()
        .map(|(id, cid, qty, price)| {
            let a = Amend::new(py, id, cid, qty.as_ref(), price.as_ref())?;
            Ok((a.which, a.qty, a.price))
        })
        .collect()
}

/// Orders named by venue ids or by client ids (one list, not both).
pub(crate) fn refs(
    order_ids: Option<Vec<String>>,
    client_order_ids: Option<Vec<String>>,
) -> Result<Vec<OrderRef>, Error> {
    let to = |ids: Vec<String>, client: bool| {
        ids.into_iter()
            .map(|id| {
                if id.is_empty() {
                    return Err(Error::invalid_argument("order_ids", "an empty id"));
                }
                Ok(if client {
                    OrderRef::ClientOrderId(Id::new(&id))
                } else {
                    OrderRef::OrderId(Id::new(&id))
                })
            })
            .collect()
    };
    match (order_ids, client_order_ids) {
        (Some(ids), None) => to(ids, false),
        (None, Some(ids)) => to(ids, true),
        _ => Err(Error::invalid_argument(
            "order_ids",
            "give order_ids or client_order_ids (one of them)",
        )),
    }
}

/// A batch's outcomes for Python: each an `Order`, or the exception it would have raised.
pub(crate) fn outcomes(
    results: Vec<Result<tradewire_core::model::Order, Error>>,
) -> PyResult<Vec<Py<PyAny>>> {
    Python::attach(|py| {
        results
            .into_iter()
            .map(|r| match r {
                Ok(order) => Ok(Py::new(py, crate::model::Order(order))?.into_any()),
                Err(e) => Ok(to_pyerr(py, e).into_value(py).into_any()),
            })
            .collect()
    })
}

pub(crate) fn order_ref(
    order_id: Option<String>,
    client_order_id: Option<String>,
) -> Result<OrderRef, Error> {
    match (order_id, client_order_id) {
        (Some(id), None) if !id.is_empty() => Ok(OrderRef::OrderId(Id::new(&id))),
        (None, Some(id)) if !id.is_empty() => Ok(OrderRef::ClientOrderId(Id::new(&id))),
        (Some(_), Some(_)) => Err(Error::invalid_argument(
            "order_id",
            "give order_id or client_order_id, not both",
        )),
        _ => Err(Error::invalid_argument(
            "order_id",
            "name the order by a non-empty order_id or client_order_id",
        )),
    }
}

/// Core values in their Python classes (lists cross as lists).
/// A history walk: `next_page()` resolves to the next page's events (oldest first), or None
/// once the range is read; `cursor_ms` is where a new walk would resume.
#[pyclass(module = "tradewire._native", frozen)]
pub struct NativeHistory {
    walk: Arc<Mutex<tradewire_core::connector::HistoryWalk>>,
    cursor_ms: Arc<std::sync::atomic::AtomicI64>,
    start_ms: i64,
    end_ms: i64,
}

#[pymethods]
impl NativeHistory {
    /// The next page (a list of `Kline`, `FundingRate`, `AggTrade`, `Fill` or `Order`), or
    /// None at the end. Awaitable.
    fn next_page<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        use tradewire_core::connector::Page;
        let (walk, cursor) = (self.walk.clone(), self.cursor_ms.clone());
        crate::runtime::future_into_py(py, async move {
            let mut walk = walk.lock().await;
            let page = walk.next_page().await.map_err(py_err)?;
            cursor.store(walk.cursor_ms(), std::sync::atomic::Ordering::Release);
            Python::attach(|py| -> PyResult<Py<PyAny>> {
                fn list<T, P: for<'a> IntoPyObject<'a>>(
                    py: Python<'_>,
                    items: Vec<T>,
                    wrap: fn(T) -> P,
                ) -> PyResult<Py<PyAny>> {
                    Ok(wrap_all(items, wrap).into_pyobject(py)?.into_any().unbind())
                }
                use crate::model as pm;
                match page {
                    None => Ok(py.None()),
                    Some(Page::Klines(all)) => list(py, all, pm::Kline),
                    Some(Page::Funding(all)) => list(py, all, pm::FundingRate),
                    Some(Page::AggTrades(all)) => list(py, all, pm::AggTrade),
                    Some(Page::Fills(all)) => list(py, all, pm::Fill),
                    Some(Page::Orders(all)) => list(py, all, pm::Order),
                }
            })
        })
    }

    #[getter]
    fn cursor_ms(&self) -> i64 {
        self.cursor_ms.load(std::sync::atomic::Ordering::Acquire)
    }

    #[getter]
    fn start_ms(&self) -> i64 {
        self.start_ms
    }

    #[getter]
    fn end_ms(&self) -> i64 {
        self.end_ms
    }
}

pub(crate) fn wrap_all<T, P>(items: Vec<T>, wrap: fn(T) -> P) -> Vec<P> {
    items.into_iter().map(wrap).collect()
}

pub(crate) fn py_err(error: Error) -> PyErr {
    Python::attach(|py| to_pyerr(py, error))
}

fn state_str(state: BreakerState) -> &'static str {
    match state {
        BreakerState::Closed => "closed",
        BreakerState::Open => "open",
        BreakerState::HalfOpen => "half_open",
    }
}

#[pyclass(module = "tradewire._native", frozen)]
pub struct NativeConnector {
    pub(crate) inner: Arc<Connector>,
}

impl NativeConnector {
    /// The core connector (shared with aggregators).
    pub fn core(&self) -> Arc<Connector> {
        self.inner.clone()
    }
}

#[pymethods]
impl NativeConnector {
    /// Starts a connector: validates the arguments, samples the venue clock and reads its
    /// limits. Awaitable.
    #[staticmethod]
    #[pyo3(signature = (venue, market, rest, ws_public, *, ws_market = None, ws_private = None, ws_api = None,
        api_key = None, api_secret = None, recv_window_ms = 5000, timeout_ms = 10_000, breaker_failures = 5,
        breaker_cool_down_ms = 10_000, clock_interval_ms = 30_000, reconcile_every_ms = 30_000,
        listen_key_keepalive_ms = 1_800_000, symbols_interval_ms = 600_000, restarts = 10,
        book_stale_after_ms = 60_000, keep_ended_orders_ms = 3_600_000, transport = "auto"))]
    #[allow(clippy::too_many_arguments)]
    fn start<'py>(
        py: Python<'py>,
        venue: Venue,
        market: Market,
        rest: String,
        ws_public: String,
        ws_market: Option<String>,
        ws_private: Option<String>,
        ws_api: Option<String>,
        api_key: Option<String>,
        api_secret: Option<String>,
        recv_window_ms: u64,
        timeout_ms: u64,
        breaker_failures: u32,
        breaker_cool_down_ms: u64,
        clock_interval_ms: u64,
        reconcile_every_ms: u64,
        listen_key_keepalive_ms: u64,
        symbols_interval_ms: u64,
        restarts: u32,
        book_stale_after_ms: u64,
        keep_ended_orders_ms: u64,
        transport: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut config =
            ConnectorConfig::new(venue.into(), market.into(), &rest, &ws_public).py_err(py)?;
        config.ws_market = ws_market;
        config.ws_private = ws_private;
        config.ws_api = ws_api;
        config.transport = Transport::parse(transport).py_err(py)?;
        config.reconcile_every = Duration::from_millis(reconcile_every_ms.max(10));
        config.listen_key_keepalive = Duration::from_millis(listen_key_keepalive_ms.max(10));
        if !(1..=60_000).contains(&recv_window_ms) {
            let reason = "must be between 1 and 60000 ms (the venues' maximum)";
            return Err(Error::invalid_argument("recv_window_ms", reason)).py_err(py);
        }
        config.http.recv_window = Duration::from_millis(recv_window_ms);
        config.http.timeout = Duration::from_millis(timeout_ms.max(1));
        config.breaker = BreakerConfig {
            failure_threshold: breaker_failures,
            cool_down: Duration::from_millis(breaker_cool_down_ms),
        };
        config.clock_interval = Duration::from_millis(clock_interval_ms.max(1));
        config.symbols_interval = Duration::from_millis(symbols_interval_ms.max(1));
        config.restarts.max_restarts = restarts;
        // 0: never stale.
        config.book_stale_after =
            (book_stale_after_ms > 0).then(|| Duration::from_millis(book_stale_after_ms));
        config.keep_ended_orders = Duration::from_millis(keep_ended_orders_ms);
        let credentials = match (api_key, api_secret) {
            (Some(k), Some(s)) => Some(Credentials::new(&k, &s).py_err(py)?),
            (None, None) => None,
            (Some(_), None) | (None, Some(_)) => {
                let reason = "give both api_key and api_secret, or neither";
                return Err(Error::invalid_argument("api_secret", reason)).py_err(py);
            }
        };
        let cancel = crate::runtime::root_token(py)?;
        crate::runtime::future_into_py(py, async move {
            let inner = Connector::start(config, credentials, cancel)
                .await
                .map_err(py_err)?;
            Ok(NativeConnector { inner })
        })
    }

    /// Sends a REST request through the limiter, breaker and clock; returns the JSON text.
    #[pyo3(signature = (method, path, params = None, *, signed = false, order = false))]
    fn request<'py>(
        &self,
        py: Python<'py>,
        method: &str,
        path: String,
        params: Option<Vec<(String, String)>>,
        signed: bool,
        order: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let method = match method.to_ascii_uppercase().as_str() {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            other => {
                let reason = format!("'{other}' is not one of GET, POST, PUT, DELETE");
                return Err(Error::invalid_argument("method", reason)).py_err(py);
            }
        };
        if !path.starts_with('/') {
            let reason = format!("'{path}' must start with '/'");
            return Err(Error::invalid_argument("path", reason)).py_err(py);
        }
        let request = Request {
            method,
            path,
            params: params.unwrap_or_default(),
            signed,
            priority: if order {
                Priority::Order
            } else {
                Priority::Data
            },
        };
        let inner = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            // The caller asked for a REST request: it never takes the order-entry session.
            let value = inner.rest_request(&request).await.map_err(py_err)?;
            Ok(value.to_string())
        })
    }

    /// Every listed symbol's rules (cached; read again every 10 minutes). Awaitable.
    fn symbols<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            let table = inner.symbols().await.map_err(py_err)?;
            let mut list: Vec<crate::model::SymbolInfo> = table
                .values()
                .cloned()
                .map(crate::model::SymbolInfo)
                .collect();
            list.sort_by(|a, b| a.0.symbol.as_str().cmp(b.0.symbol.as_str()));
            Ok(list)
        })
    }

    /// One symbol's rules; unknown symbols raise `InvalidArgument`. Awaitable.
    fn symbol_info<'py>(&self, py: Python<'py>, symbol: String) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            let info = inner.symbol_info(&symbol).await.map_err(py_err)?;
            Ok(crate::model::SymbolInfo(info))
        })
    }

    /// The venue's time (Unix ms) as the clock sync estimates it.
    fn server_time_ms(&self) -> i64 {
        self.inner.server_time_ms()
    }

    /// The health snapshot as plain values (`tradewire.Health` wraps them).
    fn health<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let h = self.inner.health();
        let d = PyDict::new(py);
        d.set_item("venue", h.venue.as_str())?;
        d.set_item("market", h.market.as_str())?;
        d.set_item("breaker_state", state_str(h.breaker.state))?;
        d.set_item("breaker_failures", h.breaker.consecutive_failures)?;
        d.set_item(
            "breaker_retry_in",
            h.breaker.retry_in.map(|d| d.as_secs_f64()),
        )?;
        d.set_item("clock_offset_ms", h.clock.offset_ms)?;
        d.set_item("clock_drift_ms_per_s", h.clock.drift_ms_per_s)?;
        d.set_item(
            "clock_round_trip",
            h.clock.round_trip.map(|d| d.as_secs_f64()),
        )?;
        d.set_item("clock_age", h.clock.age.map(|d| d.as_secs_f64()))?;
        d.set_item("clock_samples", h.clock.samples)?;
        // Parts go as keyword dicts: `tradewire.Health` builds its dataclasses by name.
        let limits = h
            .limits
            .into_iter()
            .map(|l| {
                let e = PyDict::new(py);
                e.set_item("name", l.name)?;
                e.set_item("used", l.used)?;
                e.set_item("limit", l.limit)?;
                e.set_item("resets_in", l.resets_in.as_secs_f64())?;
                Ok(e)
            })
            .collect::<PyResult<Vec<_>>>()?;
        d.set_item("limits", limits)?;
        d.set_item("banned_until_ms", h.banned_until_ms)?;
        let connections = h
            .connections
            .into_iter()
            .map(|c| {
                let e = PyDict::new(py);
                e.set_item("connection", c.shard)?;
                e.set_item("url", c.url)?;
                e.set_item("connected", c.connected)?;
                e.set_item("topics", c.topics)?;
                e.set_item(
                    "last_message_age",
                    c.last_message_age.map(|a| a.as_secs_f64()),
                )?;
                e.set_item("reconnects", c.reconnects)?;
                Ok(e)
            })
            .collect::<PyResult<Vec<_>>>()?;
        d.set_item("connections", connections)?;
        let subscriptions: Vec<(String, Option<f64>)> = h
            .subscriptions
            .into_iter()
            .map(|(topic, age)| (topic, age.map(|a| a.as_secs_f64())))
            .collect();
        d.set_item("subscriptions", subscriptions)?;
        let books = h
            .books
            .into_iter()
            .map(|b| {
                let (e, s) = (PyDict::new(py), b.stats);
                e.set_item("symbol", b.symbol)?;
                e.set_item("topic", b.topic)?;
                e.set_item("is_synced", b.synced)?;
                e.set_item("update_id", b.update_id)?;
                e.set_item("age", b.age.map(|a| a.as_secs_f64()))?;
                e.set_item("applied", s.applied)?;
                e.set_item("ignored", s.ignored)?;
                e.set_item("resyncs", s.resyncs)?;
                e.set_item("last_reason", s.last_reason)?;
                e.set_item("malformed", s.malformed)?;
                e.set_item("failures", s.failures)?;
                e.set_item("retry_in", s.retry_in.map(|d| d.as_secs_f64()))?;
                e.set_item("stale", s.stale)?;
                Ok(e)
            })
            .collect::<PyResult<Vec<_>>>()?;
        d.set_item("books", books)?;
        d.set_item("skipped_messages", h.skipped_messages)?;
        d.set_item("skipped_user_messages", h.skipped_user_messages)?;
        let entry = h
            .order_entry
            .map(|s| {
                let e = PyDict::new(py);
                e.set_item("url", s.url)?;
                e.set_item("up", s.up)?;
                e.set_item("reconnects", s.reconnects)?;
                e.set_item(
                    "last_message_age",
                    s.last_message_age.map(|a| a.as_secs_f64()),
                )?;
                e.set_item("sent", s.sent)?;
                e.set_item("answered", s.answered)?;
                e.set_item("lost", s.lost)?;
                e.set_item("refused", s.refused)?;
                Ok::<_, PyErr>(e)
            })
            .transpose()?;
        d.set_item("order_entry", entry)?;
        let orders = self.inner.order_stats();
        d.set_item(
            "order_reports",
            (orders.applied, orders.duplicates, orders.stale),
        )?;
        d.set_item("orders_held", orders.held)?;
        Ok(d)
    }

    /// The venue's messages of `topics`, as received, on a bounded stream with gap markers.
    #[pyo3(signature = (topics, *, capacity = 65_536))]
    fn raw_stream(
        &self,
        py: Python<'_>,
        topics: Vec<String>,
        capacity: usize,
    ) -> PyResult<crate::stream::NativeStream> {
        native_stream(py, || self.inner.raw_stream(&topics, capacity))
    }

    /// Typed public trades of `symbols` on a bounded stream with gap markers.
    #[pyo3(signature = (symbols, *, capacity = 65_536))]
    fn trades(
        &self,
        py: Python<'_>,
        symbols: Vec<String>,
        capacity: usize,
    ) -> PyResult<crate::stream::NativeStream> {
        native_stream(py, || self.inner.trades(&symbols, capacity))
    }

    /// Typed 24 h tickers of `symbols` on a bounded stream with gap markers.
    #[pyo3(signature = (symbols, *, capacity = 65_536))]
    fn tickers(
        &self,
        py: Python<'_>,
        symbols: Vec<String>,
        capacity: usize,
    ) -> PyResult<crate::stream::NativeStream> {
        native_stream(py, || self.inner.tickers(&symbols, capacity))
    }

    /// Aggregated trades of `symbols` (Binance) on a stream of `capacity` with gap markers.
    #[pyo3(signature = (symbols, *, capacity = 65_536))]
    fn agg_trades(
        &self,
        py: Python<'_>,
        symbols: Vec<String>,
        capacity: usize,
    ) -> PyResult<crate::stream::NativeStream> {
        native_stream(py, || self.inner.agg_trades(&symbols, capacity))
    }

    /// The best bid and offer of `symbols` after each change, with gap markers.
    #[pyo3(signature = (symbols, *, capacity = 65_536))]
    fn bbo(
        &self,
        py: Python<'_>,
        symbols: Vec<String>,
        capacity: usize,
    ) -> PyResult<crate::stream::NativeStream> {
        native_stream(py, || self.inner.bbo(&symbols, capacity))
    }

    /// Mark prices and funding of `symbols` (derivatives) on a stream with gap markers.
    #[pyo3(signature = (symbols, *, capacity = 65_536))]
    fn mark_prices(
        &self,
        py: Python<'_>,
        symbols: Vec<String>,
        capacity: usize,
    ) -> PyResult<crate::stream::NativeStream> {
        native_stream(py, || self.inner.mark_prices(&symbols, capacity))
    }

    /// Liquidations of `symbols` (derivatives) on a stream with gap markers.
    #[pyo3(signature = (symbols, *, capacity = 65_536))]
    fn liquidations(
        &self,
        py: Python<'_>,
        symbols: Vec<String>,
        capacity: usize,
    ) -> PyResult<crate::stream::NativeStream> {
        native_stream(py, || self.inner.liquidations(&symbols, capacity))
    }

    /// A derivative's mark price and funding by REST. Awaitable.
    fn mark_price<'py>(&self, py: Python<'py>, symbol: String) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            let mark = inner.mark_price(&symbol).await.map_err(py_err)?;
            Ok(crate::model::MarkPrice(mark))
        })
    }

    /// A derivative's open interest by REST. Awaitable.
    fn open_interest<'py>(&self, py: Python<'py>, symbol: String) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            let oi = inner.open_interest(&symbol).await.map_err(py_err)?;
            Ok(crate::model::OpenInterest(oi))
        })
    }

    /// Past fundings of `symbol` by REST, oldest first. Awaitable.
    #[pyo3(signature = (symbol, *, start_ms = None, end_ms = None, limit = None))]
    fn funding_rates<'py>(
        &self,
        py: Python<'py>,
        symbol: String,
        start_ms: Option<i64>,
        end_ms: Option<i64>,
        limit: Option<usize>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            let all = inner
                .funding_rates(&symbol, start_ms, end_ms, limit)
                .await
                .map_err(py_err)?;
            Ok(wrap_all(all, crate::model::FundingRate))
        })
    }

    /// The venue's REST book of `symbol`, `limit` levels a side at most. Awaitable.
    #[pyo3(signature = (symbol, *, limit = 100))]
    fn depth_snapshot<'py>(
        &self,
        py: Python<'py>,
        symbol: String,
        limit: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            let view = inner.depth_snapshot(&symbol, limit).await.map_err(py_err)?;
            Ok(crate::model::BookView(view))
        })
    }

    /// A walk through `symbol`'s history (`kind`: `klines` with an `interval`, `funding`,
    /// `agg_trades`, `my_trades` or `orders`) from `start_ms` to `end_ms` (now if None), page
    /// by page.
    #[pyo3(signature = (symbol, kind, start_ms, end_ms = None, interval = None, page_size = None))]
    fn history(
        &self,
        symbol: String,
        kind: &str,
        start_ms: i64,
        end_ms: Option<i64>,
        interval: Option<Interval>,
        page_size: Option<usize>,
    ) -> PyResult<NativeHistory> {
        use tradewire_core::connector::HistoryKind;
        let kind = match (kind, interval) {
            ("klines", Some(interval)) => HistoryKind::Klines(interval.into()),
            ("klines", None) => {
                return Err(py_err(Error::invalid_argument(
                    "interval",
                    "candles need an interval",
                )));
            }
            ("funding", _) => HistoryKind::Funding,
            ("agg_trades", _) => HistoryKind::AggTrades,
            ("my_trades", _) => HistoryKind::Fills,
            ("orders", _) => HistoryKind::Orders,
            (other, _) => {
                return Err(py_err(Error::invalid_argument(
                    "kind",
                    format!(
                        "'{other}' is not one of klines, funding, agg_trades, my_trades, orders"
                    ),
                )));
            }
        };
        let walk = self
            .inner
            .history(&symbol, kind, start_ms, end_ms, page_size)
            .map_err(py_err)?;
        Ok(NativeHistory {
            start_ms: walk.start_ms(),
            end_ms: walk.end_ms(),
            cursor_ms: Arc::new(std::sync::atomic::AtomicI64::new(walk.cursor_ms())),
            walk: Arc::new(Mutex::new(walk)),
        })
    }

    /// Candles of `symbol` by REST, oldest first (see `Connector::klines`). Awaitable.
    #[pyo3(signature = (symbol, interval, *, start_ms = None, end_ms = None, limit = None))]
    fn klines<'py>(
        &self,
        py: Python<'py>,
        symbol: String,
        interval: Interval,
        start_ms: Option<i64>,
        end_ms: Option<i64>,
        limit: Option<usize>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            let klines = inner
                .klines(&symbol, interval.into(), start_ms, end_ms, limit)
                .await
                .map_err(py_err)?;
            Ok(wrap_all(klines, crate::model::Kline))
        })
    }

    /// Live candles of `symbols`, each closed one once and in order (missed ones read by
    /// REST), on a stream of `capacity` that never drops.
    #[pyo3(signature = (symbols, interval, *, capacity = 65_536))]
    fn kline_updates(
        &self,
        py: Python<'_>,
        symbols: Vec<String>,
        interval: Interval,
        capacity: usize,
    ) -> PyResult<crate::stream::NativeStream> {
        native_stream(py, || {
            self.inner
                .kline_updates(&symbols, interval.into(), capacity)
        })
    }

    /// Checks and places an order; resolves to its state (UNKNOWN if the outcome could not be
    /// learnt). Amounts are `Decimal`, `str` or `int`. Awaitable.
    #[pyo3(signature = (symbol, side, order_type, *, qty = None, quote_qty = None, price = None,
        time_in_force = None, post_only = false, reduce_only = false, position_side = None,
        trigger_price = None, trigger_kind = None, trigger_by = None, callback_rate = None,
        close_position = false, take_profit = None, stop_loss = None, client_order_id = None))]
    #[allow(clippy::too_many_arguments)]
    fn place<'py>(
        &self,
        py: Python<'py>,
        symbol: String,
        side: Side,
        order_type: OrderType,
        qty: Option<&Bound<'py, PyAny>>,
        quote_qty: Option<&Bound<'py, PyAny>>,
        price: Option<&Bound<'py, PyAny>>,
        time_in_force: Option<TimeInForce>,
        post_only: bool,
        reduce_only: bool,
        position_side: Option<PositionSide>,
        trigger_price: Option<&Bound<'py, PyAny>>,
        trigger_kind: Option<TriggerKind>,
        trigger_by: Option<TriggerBy>,
        callback_rate: Option<&Bound<'py, PyAny>>,
        close_position: bool,
        take_profit: Option<PyRef<'py, crate::model::Exit>>,
        stop_loss: Option<PyRef<'py, crate::model::Exit>>,
        client_order_id: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let draft = Draft::new(
            side,
            order_type,
            qty,
            quote_qty,
            price,
            time_in_force,
            post_only,
            reduce_only,
            position_side,
        )?
        .trailing(callback_rate)?
        .triggered(trigger_price, trigger_kind, trigger_by)?
        .closing(close_position)
        .exits(take_profit, stop_loss);
        let client_order_id = self
            .inner
            .client_order_id(client_order_id.as_deref())
            .py_err(py)?;
        let inner = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            // Only listed names become symbols (they are interned).
            let symbol = inner.symbol_info(&symbol).await.map_err(py_err)?.symbol;
            let order = inner
                .place(draft.order(symbol, client_order_id))
                .await
                .map_err(py_err)?;
            Ok(crate::model::Order(order))
        })
    }

    /// Places a one-cancels-the-other pair (Binance spot): a post-only take-profit at `price`
    /// and a stop at `stop_price` (MARKET, or LIMIT at `stop_limit_price`). Resolves to
    /// `(take_profit, stop)`. Awaitable.
    #[pyo3(signature = (symbol, side, qty, price, stop_price, *, stop_limit_price = None,
        list_client_order_id = None, limit_client_order_id = None, stop_client_order_id = None))]
    #[allow(clippy::too_many_arguments)]
    fn place_oco<'py>(
        &self,
        py: Python<'py>,
        symbol: String,
        side: Side,
        qty: &Bound<'py, PyAny>,
        price: &Bound<'py, PyAny>,
        stop_price: &Bound<'py, PyAny>,
        stop_limit_price: Option<&Bound<'py, PyAny>>,
        list_client_order_id: Option<String>,
        limit_client_order_id: Option<String>,
        stop_client_order_id: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let qty = crate::convert::extract_decimal(qty, "qty")?;
        let limit_price = crate::convert::extract_decimal(price, "price")?;
        let stop_trigger = crate::convert::extract_decimal(stop_price, "stop_price")?;
        let stop_limit_price = extract_opt_decimal(stop_limit_price, "stop_limit_price")?;
        let ids = [
            list_client_order_id,
            limit_client_order_id,
            stop_client_order_id,
        ]
        .into_iter()
        .map(|given| self.inner.client_order_id(given.as_deref()))
        .collect::<Result<Vec<Id>, _>>()
        .py_err(py)?;
        let [list, limit, stop] = <[Id; 3]>::try_from(ids).expect("three ids");
        let inner = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            let symbol = inner.symbol_info(&symbol).await.map_err(py_err)?.symbol;
            let (take, stop) = inner
                .place_oco(Oco {
                    symbol,
                    side: side.into(),
                    qty,
                    limit_price,
                    stop_trigger,
                    stop_limit_price,
                    list_client_order_id: list,
                    limit_client_order_id: limit,
                    stop_client_order_id: stop,
                })
                .await
                .map_err(py_err)?;
            Ok((crate::model::Order(take), crate::model::Order(stop)))
        })
    }

    /// Cancels one order named by exactly one of its ids. Awaitable.
    #[pyo3(signature = (symbol, *, order_id = None, client_order_id = None))]
    fn cancel<'py>(
        &self,
        py: Python<'py>,
        symbol: String,
        order_id: Option<String>,
        client_order_id: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let which = order_ref(order_id, client_order_id).py_err(py)?;
        let inner = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            let order = inner.cancel(&symbol, &which).await.map_err(py_err)?;
            Ok(crate::model::Order(order))
        })
    }

    /// Amends an open LIMIT order to `qty` and/or `price`; resolves to its state after (on
    /// Binance spot a price change or increase resolves to the replacement). Awaitable.
    #[pyo3(signature = (symbol, *, order_id = None, client_order_id = None, qty = None, price = None, replacement_client_order_id = None))]
    #[allow(clippy::too_many_arguments)]
    fn amend<'py>(
        &self,
        py: Python<'py>,
        symbol: String,
        order_id: Option<String>,
        client_order_id: Option<String>,
        qty: Option<&Bound<'py, PyAny>>,
        price: Option<&Bound<'py, PyAny>>,
        replacement_client_order_id: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let amend = Amend::new(py, order_id, client_order_id, qty, price)?;
        let replacement = match replacement_client_order_id {
            Some(id) => Some(self.inner.client_order_id(Some(&id)).py_err(py)?),
            None => None,
        };
        let inner = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            let order = inner
                .amend(&symbol, &amend.which, amend.qty, amend.price, replacement)
                .await
                .map_err(py_err)?;
            Ok(crate::model::Order(order))
        })
    }

    /// Cancels one order and places a LIMIT order in one request (Binance spot); resolves to
    /// the new order. Awaitable.
    #[pyo3(signature = (symbol, qty, price, *, order_id = None, client_order_id = None, side = None, time_in_force = None, post_only = false, new_client_order_id = None))]
    #[allow(clippy::too_many_arguments)]
    fn replace<'py>(
        &self,
        py: Python<'py>,
        symbol: String,
        qty: &Bound<'py, PyAny>,
        price: &Bound<'py, PyAny>,
        order_id: Option<String>,
        client_order_id: Option<String>,
        side: Option<Side>,
        time_in_force: Option<TimeInForce>,
        post_only: bool,
        new_client_order_id: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let which = order_ref(order_id, client_order_id).py_err(py)?;
        let draft = Draft::replacement(side, qty, price, time_in_force, post_only)?;
        let new_id = self
            .inner
            .client_order_id(new_client_order_id.as_deref())
            .py_err(py)?;
        let inner = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            let info = inner.symbol_info(&symbol).await.map_err(py_err)?;
            let mut new = draft.order(info.symbol, new_id);
            if side.is_none() {
                // The replacement takes the old order's side unless told otherwise.
                new.side = inner
                    .known_or_query(info.symbol, &which)
                    .await
                    .map_err(py_err)?
                    .side;
            }
            let order = inner.replace(&symbol, &which, new).await.map_err(py_err)?;
            Ok(crate::model::Order(order))
        })
    }

    /// Checks and places many orders (`(symbol, side, order_type, qty, quote_qty, price,
    /// time_in_force, post_only, reduce_only, client_order_id)` each) in as few requests as
    /// the venue allows; resolves to one `Order` or exception each, in order. Awaitable.
    fn place_batch<'py>(
        &self,
        py: Python<'py>,
        orders: Vec<BatchItem<'py>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let drafts = orders
            .into_iter()
            .map(|item| item.draft(|id| self.inner.client_order_id(id)))
            .collect::<PyResult<Vec<_>>>()?;
        let inner = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            let mut orders = Vec::with_capacity(drafts.len());
            let mut early: Vec<Option<Error>> = Vec::with_capacity(drafts.len());
            for (symbol, draft, id) in drafts {
                match inner.symbol_info(&symbol).await {
                    Ok(info) => {
                        orders.push(draft.order(info.symbol, id));
                        early.push(None);
                    }
                    Err(e) => early.push(Some(e)),
                }
            }
            let mut placed = inner.place_batch(orders).await.into_iter();
            let results = early
                .into_iter()
                .map(|e| match e {
                    Some(e) => Err(e),
                    None => placed.next().unwrap_or(Err(Error::Closed)),
                })
                .collect();
            outcomes(results)
        })
    }

    /// Amends many open LIMIT orders of `symbol` (`(order_id, client_order_id, qty, price)`
    /// each) in as few requests as the venue allows; resolves to one `Order` or exception
    /// each, in order. Awaitable.
    fn amend_batch<'py>(
        &self,
        py: Python<'py>,
        symbol: String,
        items: Vec<AmendItem<'py>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let items = amend_items(py, items)?;
        let inner = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            outcomes(inner.amend_batch(&symbol, items).await)
        })
    }

    /// Cancels many orders of `symbol`, named by ids or client ids, in as few requests as the
    /// venue allows; resolves to one `Order` or exception each, in order. Awaitable.
    #[pyo3(signature = (symbol, *, order_ids = None, client_order_ids = None))]
    fn cancel_batch<'py>(
        &self,
        py: Python<'py>,
        symbol: String,
        order_ids: Option<Vec<String>>,
        client_order_ids: Option<Vec<String>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let which = refs(order_ids, client_order_ids).py_err(py)?;
        let inner = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            outcomes(inner.cancel_batch(&symbol, which).await)
        })
    }

    /// Cancels every open order of `symbol`; resolves to their states. Awaitable.
    fn cancel_all<'py>(&self, py: Python<'py>, symbol: String) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            let orders = inner.cancel_all(&symbol).await.map_err(py_err)?;
            Ok(wrap_all(orders, crate::model::Order))
        })
    }

    /// One order as the venue reports it now. Awaitable.
    #[pyo3(signature = (symbol, *, order_id = None, client_order_id = None))]
    fn order<'py>(
        &self,
        py: Python<'py>,
        symbol: String,
        order_id: Option<String>,
        client_order_id: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let which = order_ref(order_id, client_order_id).py_err(py)?;
        let inner = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            let order = inner.order(&symbol, &which).await.map_err(py_err)?;
            Ok(crate::model::Order(order))
        })
    }

    /// Open orders of one symbol, or of every symbol. Awaitable.
    #[pyo3(signature = (symbol = None))]
    fn open_orders<'py>(
        &self,
        py: Python<'py>,
        symbol: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            let orders = inner.open_orders(symbol.as_deref()).await.map_err(py_err)?;
            Ok(wrap_all(orders, crate::model::Order))
        })
    }

    /// Sets a symbol's leverage; resolves to it as the venue then reports it (text).
    /// Awaitable.
    fn set_leverage<'py>(
        &self,
        py: Python<'py>,
        symbol: String,
        leverage: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let leverage = crate::convert::extract_decimal(leverage, "leverage")?;
        let inner = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            let set = inner
                .set_leverage(&symbol, leverage)
                .await
                .map_err(py_err)?;
            Ok(set.normalize().to_string())
        })
    }

    /// Sets (a zero trigger removes) a position's own take-profit / stop-loss; resolves to the
    /// position as the venue then reports it. Awaitable.
    #[pyo3(signature = (symbol, *, take_profit = None, stop_loss = None, trailing_stop = None,
        activation_price = None, position_side = None))]
    #[allow(clippy::too_many_arguments)]
    fn set_position_exits<'py>(
        &self,
        py: Python<'py>,
        symbol: String,
        take_profit: Option<PyRef<'py, crate::model::Exit>>,
        stop_loss: Option<PyRef<'py, crate::model::Exit>>,
        trailing_stop: Option<&Bound<'py, PyAny>>,
        activation_price: Option<&Bound<'py, PyAny>>,
        position_side: Option<PositionSide>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let exits = tradewire_core::orders::PositionExits {
            position_side: position_side.map(Into::into),
            take_profit: take_profit.map(|e| e.0),
            stop_loss: stop_loss.map(|e| e.0),
            trailing_stop: extract_opt_decimal(trailing_stop, "trailing_stop")?,
            activation_price: extract_opt_decimal(activation_price, "activation_price")?,
        };
        let inner = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            let position = inner
                .set_position_exits(&symbol, exits)
                .await
                .map_err(py_err)?;
            Ok(crate::model::Position(position))
        })
    }

    /// Cross, isolated or portfolio margin (as the venue scopes it). Awaitable.
    #[pyo3(signature = (mode, symbol = None))]
    fn set_margin_mode<'py>(
        &self,
        py: Python<'py>,
        mode: String,
        symbol: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mode: tradewire_core::model::MarginMode = mode.parse().py_err(py)?;
        let inner = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            inner
                .set_margin_mode(symbol.as_deref(), mode)
                .await
                .map_err(py_err)
        })
    }

    /// One-way or hedge mode (as the venue scopes it). Awaitable.
    #[pyo3(signature = (mode, symbol = None))]
    fn set_position_mode<'py>(
        &self,
        py: Python<'py>,
        mode: String,
        symbol: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mode: tradewire_core::model::PositionMode = mode.parse().py_err(py)?;
        let inner = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            inner
                .set_position_mode(symbol.as_deref(), mode)
                .await
                .map_err(py_err)
        })
    }

    /// A symbol's `(symbol, leverage, margin mode, position mode)`, as text. Awaitable.
    fn settings<'py>(&self, py: Python<'py>, symbol: String) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            let s = inner.settings(&symbol).await.map_err(py_err)?;
            Ok((
                s.symbol.to_string(),
                s.leverage.normalize().to_string(),
                s.margin_mode.as_str(),
                s.position_mode.as_str(),
            ))
        })
    }

    /// Free and locked funds per asset. Awaitable.
    fn balances<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            let balances = inner.balances().await.map_err(py_err)?;
            Ok(wrap_all(balances, crate::model::Balance))
        })
    }

    /// Positions (derivatives markets only). Awaitable.
    #[pyo3(signature = (symbol = None))]
    fn positions<'py>(
        &self,
        py: Python<'py>,
        symbol: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner.clone();
        crate::runtime::future_into_py(py, async move {
            let positions = inner.positions(symbol.as_deref()).await.map_err(py_err)?;
            Ok(wrap_all(positions, crate::model::Position))
        })
    }

    /// A live book handle once the book is in sync (at most `timeout_ms`). Awaitable.
    #[pyo3(signature = (symbol, *, depth = 50, timeout_ms = 30_000))]
    fn book<'py>(
        &self,
        py: Python<'py>,
        symbol: String,
        depth: usize,
        timeout_ms: u64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner.clone();
        let wait = Duration::from_millis(timeout_ms.max(1));
        crate::runtime::future_into_py(py, async move {
            let handle = inner.book(&symbol, depth, wait).await.map_err(py_err)?;
            Ok(crate::book::NativeBook::new(handle, depth))
        })
    }

    /// Conflated views of the books of `symbols` (best `depth` levels a side) after each change.
    #[pyo3(signature = (symbols, *, depth = 10))]
    fn book_updates(
        &self,
        py: Python<'_>,
        symbols: Vec<String>,
        depth: usize,
    ) -> PyResult<crate::stream::NativeStream> {
        native_stream(py, || self.inner.book_updates(&symbols, depth))
    }

    /// Every change of the book of `symbol` (at least `depth` levels a side), none conflated.
    /// (`capacity`'s default is written out for the signature Python shows.)
    #[pyo3(signature = (symbol, *, depth = 1000, capacity = 65536))]
    fn book_diffs(
        &self,
        py: Python<'_>,
        symbol: &str,
        depth: usize,
        capacity: usize,
    ) -> PyResult<crate::stream::NativeStream> {
        native_stream(py, || self.inner.book_diffs(symbol, depth, capacity))
    }

    /// Every change of every order (never dropped); opens the user stream.
    fn order_updates(&self, py: Python<'_>) -> PyResult<crate::stream::NativeStream> {
        native_stream(py, || self.inner.order_updates())
    }

    /// Each asset's funds when they change, the current ones first.
    fn balance_updates(&self, py: Python<'_>) -> PyResult<crate::stream::NativeStream> {
        native_stream(py, || self.inner.balance_updates())
    }

    /// Each position when it changes, the current ones first (derivatives).
    fn position_updates(&self, py: Python<'_>) -> PyResult<crate::stream::NativeStream> {
        native_stream(py, || self.inner.position_updates())
    }

    /// A subscription to the connector's events from now on.
    fn events(&self) -> NativeEvents {
        NativeEvents {
            receiver: Arc::new(Mutex::new(self.inner.events())),
            closed: self.inner.closed(),
        }
    }

    fn close(&self) {
        self.inner.close();
    }
}

/// A core stream opened inside the runtime (its tasks spawn there) and handed to Python.
pub(crate) fn native_stream<T: crate::stream::PyEvent>(
    py: Python<'_>,
    open: impl FnOnce() -> tradewire_core::Result<tradewire_core::stream::Receiver<T>>,
) -> PyResult<crate::stream::NativeStream> {
    let _guard = crate::runtime::runtime(py)?.enter();
    let receiver = open().py_err(py)?;
    Ok(crate::stream::NativeStream::new(receiver))
}

#[pyclass(module = "tradewire._native", frozen)]
pub struct NativeEvents {
    receiver: Arc<Mutex<broadcast::Receiver<ConnectorEvent>>>,
    closed: tokio_util::sync::CancellationToken,
}

#[pymethods]
impl NativeEvents {
    /// Awaits the next event: `(kind, fields)`; `None` once the connector is closed. Events are
    /// rare, so one future per event is fine here (streams of market data use the batch bridge).
    fn next<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let (receiver, closed) = (self.receiver.clone(), self.closed.clone());
        crate::runtime::future_into_py(py, async move {
            let mut receiver = receiver.lock().await;
            let event = loop {
                // Events sent before the close (a task giving up is told, then the connector
                // closes) are still delivered.
                let received = tokio::select! {
                    biased;
                    received = receiver.recv() => received,
                    _ = closed.cancelled() => break None,
                };
                match received {
                    Ok(event) => break Some(event),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => break None,
                }
            };
            Ok(event.map(|e| match e {
                ConnectorEvent::BreakerChanged { from, to } => (
                    "breaker",
                    vec![
                        ("from", state_str(from).to_owned()),
                        ("to", state_str(to).to_owned()),
                    ],
                ),
                ConnectorEvent::ClockSynced { offset_ms } => {
                    ("clock_synced", vec![("offset_ms", offset_ms.to_string())])
                }
                ConnectorEvent::ClockSyncFailed { reason } => {
                    ("clock_sync_failed", vec![("reason", reason)])
                }
                ConnectorEvent::Socket(url, event) => {
                    let (kind, mut fields) = socket_event(event);
                    fields.push(("url", url.to_string()));
                    (kind, fields)
                }
                ConnectorEvent::Limit(LimitEvent::Waiting { limit, delay }) => (
                    "rate_limit_wait",
                    vec![
                        ("limit", limit),
                        ("delay", format!("{:.3}", delay.as_secs_f64())),
                    ],
                ),
                ConnectorEvent::Limit(LimitEvent::BackingOff { until_ms }) => {
                    ("rate_limited", vec![("until_ms", until_ms.to_string())])
                }
                ConnectorEvent::Limit(LimitEvent::Banned { until_ms }) => {
                    ("banned", vec![("until_ms", until_ms.to_string())])
                }
                ConnectorEvent::BookSynced { symbol, update_id } => (
                    "book_synced",
                    vec![("symbol", symbol), ("update_id", update_id.to_string())],
                ),
                ConnectorEvent::BookUnsynced {
                    symbol,
                    reason,
                    failures,
                    retry_in,
                } => (
                    "book_unsynced",
                    vec![
                        ("symbol", symbol),
                        ("reason", reason),
                        ("failures", failures.to_string()),
                        ("retry_in", format!("{:.3}", retry_in.as_secs_f64())),
                    ],
                ),
                ConnectorEvent::BookStale { symbol, idle } => (
                    "book_stale",
                    vec![
                        ("symbol", symbol),
                        ("idle", format!("{:.3}", idle.as_secs_f64())),
                    ],
                ),
                ConnectorEvent::BookFresh { symbol } => ("book_fresh", vec![("symbol", symbol)]),
                ConnectorEvent::SymbolRulesChanged { symbol, changes } => (
                    "symbol_rules_changed",
                    vec![("symbol", symbol), ("changes", changes)],
                ),
                ConnectorEvent::Task(event) => task_event(event),
            }))
        })
    }
}

/// A task's supervision, as `events()` tells it.
fn task_event(event: HealthEvent) -> (&'static str, Vec<(&'static str, String)>) {
    match event {
        HealthEvent::Restarting {
            child,
            attempt,
            delay,
            reason,
        } => (
            "task_restarted",
            vec![
                ("child", child),
                ("reason", reason),
                ("attempt", attempt.to_string()),
                ("delay", format!("{:.3}", delay.as_secs_f64())),
            ],
        ),
        HealthEvent::GaveUp { child, restarts } => (
            "task_gave_up",
            vec![("child", child), ("restarts", restarts.to_string())],
        ),
        HealthEvent::TaskPanicked { task, message } => {
            ("task_panicked", vec![("child", task), ("reason", message)])
        }
        HealthEvent::Started { child, .. } => ("task_started", vec![("child", child)]),
        HealthEvent::Exited { child } => ("task_exited", vec![("child", child)]),
        HealthEvent::Failed { child, error } => {
            ("task_failed", vec![("child", child), ("reason", error)])
        }
        HealthEvent::Panicked { child, message } => {
            ("task_failed", vec![("child", child), ("reason", message)])
        }
    }
}

fn socket_event(event: WsEvent) -> (&'static str, Vec<(&'static str, String)>) {
    let shard = |k: usize| ("connection", k.to_string());
    match event {
        WsEvent::Connected { shard: k } => ("connected", vec![shard(k)]),
        WsEvent::Disconnected { shard: k, reason } => {
            ("disconnected", vec![shard(k), ("reason", reason)])
        }
        WsEvent::Reconnecting {
            shard: k,
            attempt,
            delay,
        } => (
            "reconnecting",
            vec![
                shard(k),
                ("attempt", attempt.to_string()),
                ("delay", format!("{:.3}", delay.as_secs_f64())),
            ],
        ),
        WsEvent::Resubscribed { shard: k, topics } => (
            "resubscribed",
            vec![shard(k), ("topics", topics.to_string())],
        ),
        WsEvent::Rotated { shard: k } => ("rotated", vec![shard(k)]),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeConnector>()?;
    m.add_class::<NativeHistory>()?;
    m.add_class::<NativeEvents>()?;
    Ok(())
}

const _: () = assert!(tradewire_core::book::diffs::DIFFS_CAPACITY == 65536);
