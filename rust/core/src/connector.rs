//! One venue market's running system (DESIGN.md "Runtime architecture"): the signed REST path
//! with its limiter, breaker and clock, the clock-sync task, and the connector's event stream.
//! Market data, order and user-stream children join it in later issues.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

mod account;
mod batch;
mod entry;
mod history;
mod klines;
mod public;
mod settings;
mod streams;
mod trading;

pub use entry::Transport;
pub use history::{HistoryKind, HistoryWalk, Page};
pub use streams::BookHealth;
pub use trading::outcome_unknown;

use crate::model::{Market, SymbolInfo, Venue};
use crate::net::http::{Http, HttpConfig, Request};
use crate::net::ws::{ShardHealth, WsConfig, WsEvent};
use crate::resilience::{
    Breaker, BreakerConfig, BreakerSnapshot, BreakerState, ClockSnapshot, ClockSync, LimitEvent,
    LimitId, LimitUsage, Limiter,
};
use crate::supervise::{HealthEvent, RestartPolicy, Supervisor};
use crate::venue::{Adapter, Credentials};
use crate::{Error, Result};

#[derive(Debug, Clone)]
pub struct ConnectorConfig {
    pub venue: Venue,
    pub market: Market,
    pub rest_url: String,
    /// Market-stream base URL (where a venue splits them: its book streams' route).
    pub ws_public: String,
    /// The second market-stream route of a venue that splits them (trades, tickers).
    pub ws_market: Option<String>,
    /// The user stream's own route.
    pub ws_private: Option<String>,
    /// The venue's WebSocket API: order entry (Binance's WebSocket API, Bybit's trade
    /// WebSocket), and Binance spot's user stream.
    pub ws_api: Option<String>,
    /// Which path order writes take.
    pub transport: Transport,
    /// How often the account is read by REST to catch what the user stream missed.
    pub reconcile_every: Duration,
    /// How often a listen key is kept alive (Binance USD-M's lapses after 60 min).
    pub listen_key_keepalive: Duration,
    pub ws: WsConfig,
    pub http: HttpConfig,
    pub breaker: BreakerConfig,
    /// How often the venue's time is sampled (a rejected timestamp resyncs at once).
    pub clock_interval: Duration,
    /// How often every symbol's rules are read again (venues change ticks and steps).
    pub symbols_interval: Duration,
    /// How the connector's tasks are restarted, and when the supervisor gives up.
    pub restarts: RestartPolicy,
    /// Share of each rate limit kept for orders.
    pub order_reserve: f64,
    /// A book in sync that applies nothing this long is flagged stale (`None`: never).
    pub book_stale_after: Option<Duration>,
    /// How long an order that ended is held after its end (queries then go to the venue).
    pub keep_ended_orders: Duration,
}

impl ConnectorConfig {
    pub fn new(
        venue: Venue,
        market: Market,
        rest_url: &str,
        ws_public: &str,
    ) -> Result<ConnectorConfig> {
        if !Market::of(venue).contains(&market) {
            let allowed: Vec<&str> = Market::of(venue).iter().map(|m| m.as_str()).collect();
            return Err(Error::invalid_argument(
                "market",
                format!(
                    "{venue} has no market '{market}': use one of {}",
                    allowed.join(", ")
                ),
            ));
        }
        Ok(ConnectorConfig {
            venue,
            market,
            rest_url: rest_url.to_owned(),
            ws_public: ws_public.to_owned(),
            ws_market: None,
            ws_private: None,
            ws_api: None,
            transport: Transport::Auto,
            reconcile_every: Duration::from_secs(30),
            listen_key_keepalive: Duration::from_secs(30 * 60),
            ws: crate::venue::adapter(venue).ws_config(market),
            http: HttpConfig::default(),
            breaker: BreakerConfig::default(),
            clock_interval: Duration::from_secs(30),
            symbols_interval: SYMBOLS_REFRESH,
            restarts: RestartPolicy::default(),
            order_reserve: 0.1,
            book_stale_after: Some(BOOK_STALE_AFTER),
            keep_ended_orders: Duration::from_secs(3600),
        })
    }
}

/// A liquid symbol's book changes many times a second; a minute without a change is worth a
/// flag (`ConnectorEvent::BookStale`), not a resync: a quiet symbol's stream is merely idle.
pub const BOOK_STALE_AFTER: Duration = Duration::from_secs(60);

/// What changed between two listings of one symbol (`tick_size 0.01 -> 0.1; ...`), if any.
fn rule_changes(was: &SymbolInfo, now: &SymbolInfo) -> Option<String> {
    let show = |d: Option<rust_decimal::Decimal>| {
        d.map_or("none".to_owned(), |d| d.normalize().to_string())
    };
    let fields = [
        ("tick_size", Some(was.tick_size), Some(now.tick_size)),
        ("step_size", Some(was.step_size), Some(now.step_size)),
        ("min_qty", Some(was.min_qty), Some(now.min_qty)),
        ("max_qty", was.max_qty, now.max_qty),
        ("min_notional", was.min_notional, now.min_notional),
        ("market_min_qty", was.market_min_qty, now.market_min_qty),
        ("market_max_qty", was.market_max_qty, now.market_max_qty),
    ];
    let mut changes: Vec<String> = fields
        .iter()
        .filter(|(_, a, b)| a != b)
        .map(|(name, a, b)| format!("{name} {} -> {}", show(*a), show(*b)))
        .collect();
    if was.status != now.status {
        changes.push(format!("status {} -> {}", was.status, now.status));
    }
    (!changes.is_empty()).then(|| changes.join("; "))
}

/// What happened to a connector, in order, for `connector.events()`.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnectorEvent {
    BreakerChanged {
        from: BreakerState,
        to: BreakerState,
    },
    ClockSynced {
        offset_ms: i64,
    },
    ClockSyncFailed {
        reason: String,
    },
    /// A WebSocket of the pool on this URL (market streams, the user stream).
    Socket(Arc<str>, WsEvent),
    Limit(LimitEvent),
    /// A book is in sync (again) at `update_id`.
    BookSynced {
        symbol: String,
        update_id: u64,
    },
    /// A book lost sync (gap, duplicate out of order, crossed, connection lost), or an
    /// attempt to sync it failed; it tries again after `retry_in` (`failures` in a row).
    BookUnsynced {
        symbol: String,
        reason: String,
        failures: u32,
        retry_in: Duration,
    },
    /// A book in sync has applied nothing for `idle` (at least the connector's
    /// `book_stale_after`): its stream may have gone quiet at the venue. It stays in sync.
    BookStale {
        symbol: String,
        idle: Duration,
    },
    /// A stale book applied an update again.
    BookFresh {
        symbol: String,
    },
    /// A task of the connector restarted after a failure or panic, gave up (the connector then
    /// fails), or a one-shot task panicked (its caller got an error).
    Task(crate::supervise::HealthEvent),
    /// The venue changed a symbol's rules (read by the periodic refresh, or after it refused
    /// an order for a filter): `changes` names each, `tick_size 0.01 -> 0.1`. Books keep
    /// going; orders are checked against the new rules.
    SymbolRulesChanged {
        symbol: String,
        changes: String,
    },
}

/// A typed snapshot of a connector's health.
#[derive(Debug, Clone)]
pub struct Health {
    pub venue: Venue,
    pub market: Market,
    pub breaker: BreakerSnapshot,
    pub clock: ClockSnapshot,
    pub limits: Vec<LimitUsage>,
    /// When a venue ban ends (Unix ms), if banned now.
    pub banned_until_ms: Option<i64>,
    /// Every WebSocket connection with its subscriptions and last message age.
    pub connections: Vec<ShardHealth>,
    /// Every subscription and how long since it last delivered (`None`: not yet).
    pub subscriptions: Vec<(String, Option<Duration>)>,
    /// Every live book.
    pub books: Vec<BookHealth>,
    /// Market messages that could not be read (logged and skipped).
    pub skipped_messages: u64,
    /// User-stream messages that could not be read (each answered by reading the account).
    pub skipped_user_messages: u64,
    /// The order-entry session, if one is open.
    pub order_entry: Option<crate::net::SessionHealth>,
}

pub struct Connector {
    pub venue: Venue,
    pub market: Market,
    /// Everything venue-specific.
    adapter: &'static dyn Adapter,
    pub http: Arc<Http>,
    config: ConnectorConfig,
    events: broadcast::Sender<ConnectorEvent>,
    /// Connection attempts, shared by every WebSocket of the venue.
    connects: (Arc<Limiter>, LimitId),
    streams: Mutex<streams::Streams>,
    /// Starts and watches every task of this connector.
    pub(crate) supervisor: Arc<Supervisor>,
    /// When the rules were last read again after the venue refused an order for a filter.
    rules_refused_at: Mutex<Option<tokio::time::Instant>>,
    /// User-stream messages that could not be read.
    skipped_user_messages: std::sync::atomic::AtomicU64,
    /// What book resync retries may take of the REST limits together ([`RESYNC_SHARE`]).
    resync: crate::resilience::Share,
    /// Symbol rules by name, and when they were read.
    symbols: tokio::sync::Mutex<Option<(tokio::time::Instant, Arc<SymbolTable>)>>,
    /// The latest table, for synchronous checks (streams refuse unknown symbols at once).
    listed: std::sync::RwLock<Arc<SymbolTable>>,
    /// The venue's order and account endpoints.
    trading: Box<dyn crate::venue::Trading>,
    /// The order-entry session, where one is open.
    entry: Option<entry::Entry>,
    /// Every order seen, through the one state machine.
    orders: std::sync::Mutex<crate::orders::Orders>,
    client_ids: crate::resilience::ClientIds,
    credentials: Option<Arc<Credentials>>,
    /// Readers of order, balance and position updates.
    publish: std::sync::Mutex<account::Publish>,
    /// The user stream, once opened.
    user: tokio::sync::Mutex<Option<account::UserFeed>>,
    user_started: std::sync::atomic::AtomicBool,
    /// Reconciliation rounds, and reads of funds and positions, one at a time each.
    reconciling: account::Coalesced,
    refreshing: account::Coalesced,
    /// When the user stream was last restarted (restarts are spaced).
    last_restart: std::sync::Mutex<Option<tokio::time::Instant>>,
    /// Why the connector failed, once it has (see [`Connector::fail`]).
    failure: std::sync::OnceLock<Error>,
    cancel: CancellationToken,
}

/// A venue market's symbol rules by name.
pub type SymbolTable = HashMap<String, SymbolInfo>;

/// Symbol rules are read again after this long (listings and filters change rarely).
const SYMBOLS_REFRESH: Duration = Duration::from_secs(600);

/// Refusals for a filter read the symbol rules again at most this often.
pub(crate) const REFUSAL_REFRESH: Duration = Duration::from_secs(10);

/// The share of each REST limit that book resync retries past a book's first failure may take
/// together: 200 books failing forever use at most a tenth of the weight, and orders, first
/// syncs and one-off resyncs keep the rest.
pub const RESYNC_SHARE: f64 = 0.1;

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("venue", &self.venue)
            .field("market", &self.market)
            .finish_non_exhaustive()
    }
}

/// The venue market's REST path: its dialect, its documented limits (until exchangeInfo is
/// read), a limiter and a clock on the venue's time, and the breaker.
pub fn rest_client(
    config: &ConnectorConfig,
    credentials: Option<Arc<Credentials>>,
) -> Result<Http> {
    let adapter = crate::venue::adapter(config.venue);
    let (dialect, limits) = (
        adapter.rest(config.market),
        adapter.default_limits(config.market),
    );
    let clock = Arc::new(ClockSync::new());
    let limiter = {
        let clock = clock.clone();
        let now = Arc::new(move || clock.now_server_ms());
        Arc::new(Limiter::new(config.venue, now, config.order_reserve))
    };
    for spec in limits {
        limiter.set_limit(spec);
    }
    let breaker = Arc::new(Breaker::new(config.venue, config.breaker)?);
    Http::new(
        &config.rest_url,
        dialect,
        credentials,
        limiter,
        breaker,
        clock,
        config.http.clone(),
    )
}

/// Events kept for a slow `events()` reader before it sees `Lagged`.
const EVENT_BUFFER: usize = 1024;

impl Connector {
    /// Builds the connector, samples the venue clock, reads the venue's limits, and starts the
    /// clock-sync task (stopped by `cancel` or [`Connector::close`]).
    pub async fn start(
        config: ConnectorConfig,
        credentials: Option<Credentials>,
        cancel: CancellationToken,
    ) -> Result<Arc<Connector>> {
        let adapter = crate::venue::adapter(config.venue);
        let credentials = credentials.map(Arc::new);
        let http = Arc::new(rest_client(&config, credentials.clone())?);
        let cancel = cancel.child_token();
        // The venue market's supervisor: one-for-one, 10 restarts within 60 s, then it gives
        // up and the connector fails (DESIGN.md's per-venue supervisor).
        let supervisor = Arc::new(Supervisor::new(
            format!("{}-{}", config.venue, config.market),
            config.restarts.clone(),
            cancel.clone(),
        ));
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        // The venue's connection attempts per IP, shared by every socket of every connector
        // of the process to this venue deployment.
        let connects = crate::net::ws::connect_limit(
            config.venue,
            &config.ws_public,
            adapter.ws_connect_limit(),
        );
        let entry =
            Connector::open_entry(&config, credentials.as_ref(), &http, &supervisor, &cancel)?;
        let connector = Arc::new(Connector {
            venue: config.venue,
            market: config.market,
            adapter,
            http,
            config: config.clone(),
            events,
            connects,
            streams: Mutex::new(streams::Streams::new(adapter.market_reader(config.market))),
            resync: crate::resilience::Share::new(RESYNC_SHARE),
            rules_refused_at: Mutex::new(None),
            skipped_user_messages: std::sync::atomic::AtomicU64::new(0),
            symbols: tokio::sync::Mutex::new(None),
            listed: std::sync::RwLock::default(),
            trading: adapter.trading(config.market),
            entry,
            orders: std::sync::Mutex::default(),
            client_ids: crate::resilience::ClientIds::new("tw", crate::venue::client_id_rule())?,
            credentials,
            publish: std::sync::Mutex::default(),
            user: tokio::sync::Mutex::new(None),
            user_started: std::sync::atomic::AtomicBool::new(false),
            reconciling: account::Coalesced::default(),
            refreshing: account::Coalesced::default(),
            last_restart: std::sync::Mutex::new(None),
            failure: std::sync::OnceLock::new(),
            supervisor,
            cancel,
        });
        connector.forward_child_events();
        connector.escalate_give_ups();
        // A few samples up front: the first signed request must already carry venue time.
        for _ in 0..3 {
            connector.sync_clock().await?;
        }
        // The symbols up front: streams refuse unknown symbols. A venue whose listing also
        // publishes its rate limits has them replace the documented defaults.
        let (list, published) = connector.read_symbols().await?;
        if let Some(published) = published {
            if !published.is_empty() {
                connector.http.limiter.replace_limits(published);
            }
            connector.keep_symbols(list).await;
            // The limits just learned start counting from the venue's usage headers: one more
            // (cheap) request brings them, so start-up's own weight is not forgotten.
            connector.sync_clock().await?;
        } else {
            connector.keep_symbols(list).await;
        }
        connector.spawn_clock_task(config.clock_interval);
        connector.spawn_symbols_task(config.symbols_interval);
        Ok(connector)
    }

    async fn sync_clock(&self) -> Result<()> {
        match self.http.sync_clock().await {
            Ok(()) => {
                let offset_ms = self.http.clock.offset_ms().unwrap_or(0);
                let _ = self.events.send(ConnectorEvent::ClockSynced { offset_ms });
                Ok(())
            }
            Err(e) => {
                let reason = e.to_string();
                let _ = self.events.send(ConnectorEvent::ClockSyncFailed { reason });
                Err(e)
            }
        }
    }

    fn spawn_clock_task(self: &Arc<Self>, every: Duration) {
        let weak = Arc::downgrade(self);
        let check = (every / 10).clamp(Duration::from_millis(50), Duration::from_secs(1));
        self.supervisor.spawn("clock", move |ctx| {
            let weak = weak.clone();
            async move {
                let mut last = tokio::time::Instant::now();
                loop {
                    tokio::select! {
                        _ = ctx.cancel.cancelled() => return Ok(()),
                        _ = tokio::time::sleep(check) => {}
                    }
                    ctx.checkpoint();
                    let Some(connector) = weak.upgrade() else {
                        return Ok(());
                    };
                    if last.elapsed() >= every || connector.http.clock.needs_resync() {
                        last = tokio::time::Instant::now();
                        // Failures are events; the next round tries again.
                        let _ = connector.sync_clock().await;
                    }
                }
            }
        });
    }

    /// Reads every symbol's rules again every `every` (failures are retried next round).
    fn spawn_symbols_task(self: &Arc<Self>, every: Duration) {
        let weak = Arc::downgrade(self);
        self.supervisor.spawn("symbols", move |ctx| {
            let weak = weak.clone();
            async move {
                loop {
                    tokio::select! {
                        _ = ctx.cancel.cancelled() => return Ok(()),
                        _ = tokio::time::sleep(every) => {}
                    }
                    ctx.checkpoint();
                    let Some(connector) = weak.upgrade() else {
                        return Ok(());
                    };
                    if let Err(e) = connector.refresh_symbols().await {
                        tracing::warn!(error = %e, "symbol rules refresh failed");
                    }
                }
            }
        });
    }

    /// A child that gave up takes the connector down with it: every reader then sees it
    /// closed, rather than a connector that looks alive with a part of it dead.
    fn escalate_give_ups(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        let events = self.events.clone();
        let subscribe = self.supervisor.subscriber();
        let first = Mutex::new(Some(subscribe()));
        self.supervisor.spawn("escalate", move |ctx| {
            let mut health = lock(&first).take().unwrap_or_else(&subscribe);
            let (weak, events) = (weak.clone(), events.clone());
            async move {
                loop {
                    let event = tokio::select! {
                        _ = ctx.cancel.cancelled() => return Ok(()),
                        event = health.recv() => event,
                    };
                    ctx.checkpoint();
                    match event {
                        Ok(HealthEvent::GaveUp { child, restarts }) => {
                            tracing::error!(%child, restarts, "a task gave up: the connector fails");
                            // Told here, before the close: the forwarders stop with it.
                            let _ = events.send(ConnectorEvent::Task(HealthEvent::GaveUp {
                                child: child.clone(),
                                restarts,
                            }));
                            if let Some(connector) = weak.upgrade() {
                                connector.fail(Error::Failed(format!(
                                    "task '{child}' gave up after {restarts} restarts"
                                )));
                            }
                            return Ok(());
                        }
                        Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                        Err(broadcast::error::RecvError::Closed) => return Ok(()),
                    }
                }
            }
        });
    }

    /// Reads every symbol's rules now, whatever the cache's age.
    pub async fn refresh_symbols(&self) -> Result<Arc<SymbolTable>> {
        self.symbols.lock().await.take();
        self.symbols().await
    }

    fn forward_child_events(&self) {
        let http = self.http.clone();
        self.forward(
            "events/breaker",
            move || http.breaker.subscribe(),
            |t| {
                Some(ConnectorEvent::BreakerChanged {
                    from: t.from,
                    to: t.to,
                })
            },
        );
        let http = self.http.clone();
        self.forward(
            "events/limits",
            move || http.limiter.subscribe(),
            |e| Some(ConnectorEvent::Limit(e)),
        );
        // What readers of events() are told of the tasks: restarts, panics, giving up.
        // (A child giving up is told by `escalate`, before the connector closes.)
        self.forward("events/tasks", self.supervisor.subscriber(), |e| match e {
            HealthEvent::Restarting { .. } | HealthEvent::TaskPanicked { .. } => {
                Some(ConnectorEvent::Task(e))
            }
            _ => None,
        });
    }

    /// Republishes a child's events as connector events until the connector closes.
    fn forward<T: Clone + Send + 'static>(
        &self,
        name: &str,
        subscribe: impl Fn() -> broadcast::Receiver<T> + Send + Sync + 'static,
        wrap: impl Fn(T) -> Option<ConnectorEvent> + Send + Sync + 'static,
    ) {
        let events = self.events.clone();
        // Subscribed now for the first run (nothing said from here on is missed); a run after
        // a restart subscribes anew and loses only what came meanwhile.
        let first = Mutex::new(Some(subscribe()));
        let (subscribe, wrap) = (Arc::new(subscribe), Arc::new(wrap));
        self.supervisor.spawn(name, move |ctx| {
            let mut source = lock(&first).take().unwrap_or_else(|| subscribe());
            let (events, wrap) = (events.clone(), wrap.clone());
            async move {
                loop {
                    let next = tokio::select! {
                        _ = ctx.cancel.cancelled() => return Ok(()),
                        next = source.recv() => next,
                    };
                    ctx.checkpoint();
                    match next {
                        Ok(event) => {
                            if let Some(event) = wrap(event) {
                                let _ = events.send(event);
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => return Ok(()),
                    }
                }
            }
        });
    }

    async fn keep_symbols(&self, list: Vec<SymbolInfo>) -> Arc<SymbolTable> {
        let mut cached = self.symbols.lock().await;
        self.remember(&mut cached, list)
    }

    /// Makes `list` the symbol table: cached for `symbols()` and kept for synchronous checks.
    fn remember(
        &self,
        cached: &mut Option<(tokio::time::Instant, Arc<SymbolTable>)>,
        list: Vec<SymbolInfo>,
    ) -> Arc<SymbolTable> {
        let table: Arc<SymbolTable> = Arc::new(
            list.into_iter()
                .map(|s| (s.symbol.as_str().to_owned(), s))
                .collect(),
        );
        *cached = Some((tokio::time::Instant::now(), table.clone()));
        let before = std::mem::replace(
            &mut *self.listed.write().unwrap_or_else(|p| p.into_inner()),
            table.clone(),
        );
        for (name, now) in table.iter() {
            if let Some(changes) = before.get(name).and_then(|was| rule_changes(was, now)) {
                tracing::info!(symbol = %name, %changes, "symbol rules changed");
                let _ = self.events.send(ConnectorEvent::SymbolRulesChanged {
                    symbol: name.clone(),
                    changes,
                });
            }
        }
        table
    }

    /// `symbol`'s rules in `table`; an unknown symbol is an `InvalidArgument` naming it.
    /// A symbol by the venue's name (`BTCUSDT`) or the canonical one (`BTC/USDT` on spot,
    /// `BTC/USDT:USDT` on a linear market).
    fn find(&self, table: &SymbolTable, symbol: &str) -> Result<SymbolInfo> {
        if let Some(info) = table.get(symbol) {
            return Ok(info.clone());
        }
        if symbol.contains('/') {
            let wanted = symbol.to_ascii_uppercase();
            if let Some(info) = table.values().find(|i| i.canonical() == wanted) {
                return Ok(info.clone());
            }
        }
        let hint = match (self.market.is_derivative(), symbol.split_once(':')) {
            (true, None) if symbol.contains('/') => {
                format!(" (a perpetual here is named like '{symbol}:USDT')")
            }
            (false, Some((spot, _))) => format!(" (a spot pair here is named like '{spot}')"),
            _ => String::new(),
        };
        Err(Error::invalid_argument(
            "symbol",
            format!(
                "'{symbol}' is not listed on {} {}{hint}",
                self.venue, self.market
            ),
        ))
    }

    /// Every symbol's rules, cached and read again after [`SYMBOLS_REFRESH`].
    pub async fn symbols(&self) -> Result<Arc<SymbolTable>> {
        // Held while reading, so concurrent callers share one request.
        let mut cached = self.symbols.lock().await;
        if let Some((at, table)) = cached.as_ref()
            && at.elapsed() < SYMBOLS_REFRESH
        {
            return Ok(table.clone());
        }
        let (list, _) = self.read_symbols().await?;
        Ok(self.remember(&mut cached, list))
    }

    /// Reads the venue's symbol listing, every page of it, and the rate limits the listing
    /// publishes (`None`: the venue's listing has none).
    async fn read_symbols(
        &self,
    ) -> Result<(Vec<SymbolInfo>, Option<Vec<crate::resilience::LimitSpec>>)> {
        let mut list = Vec::new();
        let mut published = None;
        let mut cursor: Option<String> = None;
        loop {
            let request = self.adapter.symbols_request(self.market, cursor.as_deref());
            let page = self.request(&request).await?;
            if published.is_none() {
                published = self.adapter.published_limits(&page);
            }
            let (symbols, next) = self.adapter.symbols_of(self.market, &page)?;
            list.extend(symbols);
            cursor = next;
            if cursor.is_none() {
                return Ok((list, published));
            }
        }
    }

    /// A symbol's rules from the table read last (at start or by the latest refresh); an
    /// unknown symbol is an `InvalidArgument` naming it.
    fn listed_symbol(&self, symbol: &str) -> Result<SymbolInfo> {
        let table = self
            .listed
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        self.find(&table, symbol)
    }

    /// One symbol's rules; an unknown symbol is an `InvalidArgument` naming it.
    pub async fn symbol_info(&self, symbol: &str) -> Result<SymbolInfo> {
        let table = self.symbols().await?;
        self.find(&table, symbol)
    }

    pub fn events(&self) -> broadcast::Receiver<ConnectorEvent> {
        self.events.subscribe()
    }

    pub async fn request(&self, request: &Request) -> Result<Value> {
        if self.cancel.is_cancelled() {
            return Err(self.closed_error());
        }
        // Writes take the order-entry session where it carries them; reads (and lookups of
        // a write whose answer was lost) go by REST.
        if !request.idempotent()
            && let Some(outcome) = self.by_session(request).await
        {
            return outcome;
        }
        self.rest_request(request).await
    }

    /// `request` by REST, whatever the transport (a caller's own request to a REST path).
    pub async fn rest_request(&self, request: &Request) -> Result<Value> {
        if self.cancel.is_cancelled() {
            return Err(self.closed_error());
        }
        self.http.send(request).await
    }

    /// The venue's time (Unix ms) as the clock sync estimates it.
    /// `binance-spot`, `bybit-linear`: the name merged quotes and gateway subjects use.
    pub fn label(&self) -> String {
        format!("{}-{}", self.venue, self.market)
    }

    pub fn server_time_ms(&self) -> i64 {
        self.http.clock.now_server_ms()
    }

    pub fn health(&self) -> Health {
        let streams = lock(&self.streams);
        let (books, skipped_messages) = self.book_health(&streams);
        Health {
            venue: self.venue,
            market: self.market,
            breaker: self.http.breaker.snapshot(),
            clock: self.http.clock.snapshot(),
            limits: self.http.limiter.usage(),
            banned_until_ms: self.http.limiter.banned_until(),
            connections: self.connection_health(&streams),
            subscriptions: Connector::subscription_health(&streams),
            books,
            skipped_messages,
            skipped_user_messages: self
                .skipped_user_messages
                .load(std::sync::atomic::Ordering::Relaxed),
            order_entry: self.order_entry_health(),
        }
    }

    pub fn close(&self) {
        self.cancel.cancel();
        self.unsync_books(&lock(&self.streams));
    }

    /// Closes the connector as failed: every stream reader gets `error` after what it has
    /// buffered (not a quiet end), and every later call gets it too.
    pub fn fail(&self, error: Error) {
        let error = self.failure.get_or_init(|| error).clone();
        self.end_streams(&lock(&self.streams), &error);
        self.end_account_streams(&error);
        self.close();
    }

    /// What a call on a closed connector gets: its failure, or [`Error::Closed`].
    pub fn closed_error(&self) -> Error {
        self.failure.get().cloned().unwrap_or(Error::Closed)
    }

    /// Cancelled when the connector closes.
    pub fn closed(&self) -> CancellationToken {
        self.cancel.clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Drop for Connector {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
