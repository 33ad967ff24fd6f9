//! Bybit v5 WebSockets: public `/v5/public/{spot,linear}` (orderbook, publicTrade, tickers) and
//! private `/v5/private` (auth, order, execution, wallet, position), with the JSON ping/pong,
//! subscribe acks per channel, the spot 10-args limit, the idle cut, and the fault switches.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{Instant, sleep_until};

use super::book::{BookMessage, DEPTHS};
use super::rest::{execution_json, kline_json, positions_json, ticker, trade_id};
use super::{BybitState, Category, num, order_json, side_str, uuid};
use crate::binance::rest::hmac_hex;
use crate::exchange::candles::{KlinePacer, Span};
use crate::exchange::{Event, Kind};

/// A WebSocket `auth` request's account (`args`: key, expiry in venue ms, the HMAC of
/// `GET/realtime<expiry>`), or the venue's words for refusing it.
pub(super) fn ws_auth(st: &BybitState, args: &[Value]) -> Result<usize, &'static str> {
    let key = args.first().and_then(Value::as_str).unwrap_or("");
    let expires = args
        .get(1)
        .and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()))
        .unwrap_or(0);
    let signature = args.get(2).and_then(Value::as_str).unwrap_or("");
    let found = st.spot.lock().account_by_key(key);
    match found {
        None => Err("Invalid apikey"),
        Some(_) if expires <= st.spot.clock.now_ms() => Err("Params Error"),
        Some(a) => {
            let secret = st.spot.lock().accounts[a].secret.clone();
            if hmac_hex(&secret, &format!("GET/realtime{expires}")).eq_ignore_ascii_case(signature)
            {
                Ok(a)
            } else {
                Err("Invalid sign")
            }
        }
    }
}

pub(super) fn conn_id() -> String {
    let mut rng = fastrand::Rng::new();
    format!(
        "{}-{}",
        (0..20).map(|_| rng.lowercase()).collect::<String>(),
        rng.u32(100..999)
    )
}

pub async fn public(
    State(st): State<Arc<BybitState>>,
    Path(category): Path<String>,
    ws: WebSocketUpgrade,
) -> Response {
    let category = Category::parse(&category).unwrap_or(Category::Linear);
    // Made before the handshake completes, so a play started right after it is seen.
    let deck = crate::tape::Deck::new(st.market(category));
    ws.on_upgrade(move |socket| public_session(st, socket, category, deck))
}

pub async fn private(State(st): State<Arc<BybitState>>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| private_session(st, socket))
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Topic {
    Book(usize, String),
    Trades(String),
    Tickers(String),
    /// `kline.{interval}.{symbol}`.
    Kline(String, String),
    /// `allLiquidation.{symbol}` (linear).
    Liquidations(String),
}

impl Topic {
    fn name(&self) -> String {
        match self {
            Topic::Book(depth, symbol) => format!("orderbook.{depth}.{symbol}"),
            Topic::Trades(symbol) => format!("publicTrade.{symbol}"),
            Topic::Tickers(symbol) => format!("tickers.{symbol}"),
            Topic::Kline(interval, symbol) => format!("kline.{interval}.{symbol}"),
            Topic::Liquidations(symbol) => format!("allLiquidation.{symbol}"),
        }
    }
}

/// Why a public topic was refused, as the venue words it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Refused {
    /// No such channel, e.g. a depth the category does not offer (`orderbook.500.BTCUSDT`).
    NoHandler,
    /// A known channel of an unknown symbol.
    Symbol,
}

impl Refused {
    /// The subscribe ack's `ret_msg` (the venue refuses the whole request).
    fn message(&self, topic: &str) -> String {
        match self {
            Refused::NoHandler => format!("error:handler not found,topic:{topic}"),
            Refused::Symbol => format!("Invalid symbol :[{topic}]"),
        }
    }
}

fn parse_topic(st: &BybitState, category: Category, text: &str) -> Result<Topic, Refused> {
    let parts: Vec<&str> = text.split('.').collect();
    let known = |s: &str| st.market(category).lock().symbols.contains_key(s);
    let listed = |s: &str, topic: Topic| known(s).then_some(topic).ok_or(Refused::Symbol);
    match parts.as_slice() {
        ["orderbook", depth, symbol] => {
            let depth: usize = depth
                .parse()
                .ok()
                .filter(|d| DEPTHS.contains(d))
                .ok_or(Refused::NoHandler)?;
            listed(symbol, Topic::Book(depth, (*symbol).to_owned()))
        }
        ["publicTrade", symbol] => listed(symbol, Topic::Trades((*symbol).to_owned())),
        ["tickers", symbol] => listed(symbol, Topic::Tickers((*symbol).to_owned())),
        ["allLiquidation", symbol] if category == Category::Linear => {
            listed(symbol, Topic::Liquidations((*symbol).to_owned()))
        }
        ["kline", interval, symbol] if Span::bybit(interval).is_some() => listed(
            symbol,
            Topic::Kline((*interval).to_owned(), (*symbol).to_owned()),
        ),
        _ => Err(Refused::NoHandler),
    }
}

pub(crate) fn book_json(m: &BookMessage) -> String {
    let side = |levels: &[(rust_decimal::Decimal, rust_decimal::Decimal)]| -> Vec<Value> {
        levels
            .iter()
            .map(|(p, q)| json!([num(*p), num(*q)]))
            .collect()
    };
    json!({"topic": m.topic(), "type": if m.snapshot { "snapshot" } else { "delta" }, "ts": m.ts,
        "data": {"s": m.symbol, "b": side(&m.bids), "a": side(&m.asks), "u": m.u, "seq": m.seq}, "cts": m.ts - 1})
    .to_string()
}

/// A `publicTrade.{symbol}` message of one trade.
pub(crate) fn trade_message(category: Category, trade: &Event, ts: i64) -> String {
    let Event::Trade {
        symbol,
        id,
        price,
        qty,
        taker,
        time_ms,
    } = trade
    else {
        return String::new();
    };
    let mut item = json!({"T": time_ms, "s": symbol, "S": side_str(*taker), "v": num(*qty), "p": num(*price),
        "i": trade_id(category, *id), "BT": false, "RPI": false, "seq": id});
    if category == Category::Linear {
        item["L"] = json!("PlusTick");
    }
    json!({"topic": format!("publicTrade.{symbol}"), "type": "snapshot", "ts": ts, "data": [item]})
        .to_string()
}

/// Reads frames, sends frames, and applies the venue's timers and our faults; the caller's
/// `on_text` answers client messages and `on_tick` / `on_event` produce pushes.
struct Pump {
    conn_id: String,
    last_inbound: Instant,
}

async fn public_session(
    st: Arc<BybitState>,
    mut socket: WebSocket,
    category: Category,
    mut deck: crate::tape::Deck,
) {
    let market = st.market(category).clone();
    let faults = &market.faults;
    let mut link = crate::wire::Link::open(&market, "public", Vec::new());
    let mut events = market.lock().subscribe();
    let mut books = st.books.messages.subscribe();
    let mut pump = Pump {
        conn_id: conn_id(),
        last_inbound: Instant::now(),
    };
    let mut topics: BTreeSet<Topic> = BTreeSet::new();
    let mut book_u: HashMap<(usize, String), u64> = HashMap::new();
    let mut ticker_sent: BTreeSet<String> = BTreeSet::new();
    let mut klines = KlinePacer::default();
    let started = Instant::now();
    let end_of_life = started + st.timing.max_connection_lifetime;
    let ticker_every = (st.timing.ticker_interval
        / if category == Category::Spot { 20 } else { 10 })
    .max(Duration::from_millis(1));
    let mut tick = tokio::time::interval(ticker_every);
    let mut out: Vec<String> = Vec::new();
    loop {
        if !link.thawed().await {
            return;
        }
        let idle_deadline = pump.last_inbound + st.timing.bybit_idle_timeout;
        tokio::select! {
            _ = link.changed() => continue,
            _ = sleep_until(end_of_life.min(idle_deadline)) => {
                let _ = socket.send(Message::Close(None)).await;
                return;
            }
            incoming = socket.recv() => {
                let Some(Ok(message)) = incoming else { return };
                pump.last_inbound = Instant::now();
                let Message::Text(text) = message else { continue };
                let request: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
                let op = request.get("op").and_then(Value::as_str).unwrap_or("");
                let req_id = request.get("req_id").cloned().unwrap_or(json!(""));
                match op {
                    "ping" => {
                        let mut pong = json!({"success": true, "ret_msg": "pong", "conn_id": pump.conn_id, "op": "ping"});
                        if category == Category::Linear {
                            pong["req_id"] = req_id;
                        }
                        out.push(pong.to_string());
                    }
                    "subscribe" | "unsubscribe" => {
                        // The venue answers after a network round trip; some clients (pybit) record a
                        // subscription only after sending it, so an instant loopback ack would race them.
                        tokio::time::sleep(st.timing.control_reply_delay).await;
                        let args: Vec<String> = request.get("args").and_then(Value::as_array).map(|a| {
                            a.iter().filter_map(Value::as_str).map(str::to_owned).collect()
                        }).unwrap_or_default();
                        if op == "unsubscribe" {
                            market.faults.links.unsubscribed.fetch_add(args.len() as u64, std::sync::atomic::Ordering::Relaxed);
                        }
                        let mut ack = json!({"success": true, "ret_msg": if category == Category::Spot { op } else { "" },
                            "conn_id": pump.conn_id, "req_id": req_id, "op": op});
                        let parsed: Vec<Result<Topic, Refused>> = args.iter().map(|a| parse_topic(&st, category, a)).collect();
                        if category == Category::Spot && args.len() > 10 {
                            ack["success"] = json!(false);
                            ack["ret_msg"] = json!("args size >10");
                        } else if let Some((topic, Err(why))) = args.iter().zip(&parsed).find(|(_, p)| p.is_err()) {
                            ack["success"] = json!(false);
                            ack["ret_msg"] = json!(why.message(topic));
                        } else if op == "subscribe" {
                            let fresh: Vec<Topic> = parsed.into_iter().flatten().filter(|t| !topics.contains(t)).collect();
                            out.push(ack.to_string());
                            for topic in fresh {
                                if let Topic::Book(depth, symbol) = &topic {
                                    st.books.watch(category, symbol, *depth);
                                }
                                if let Topic::Book(depth, symbol) = &topic
                                    && let Some(snapshot) = st.books.snapshot(&market, category, symbol, *depth)
                                        && snapshot.u > 0 {
                                            book_u.insert((*depth, symbol.clone()), snapshot.u);
                                            out.push(book_json(&snapshot));
                                        }
                                topics.insert(topic);
                            }
                            link.set_streams(topics.iter().map(Topic::name));
                            continue;
                        } else {
                            for topic in parsed.into_iter().flatten() {
                                if let Topic::Book(d, s) = &topic {
                                    book_u.remove(&(*d, s.clone()));
                                }
                                if let Topic::Tickers(s) = &topic {
                                    ticker_sent.remove(s);
                                }
                                klines.forget(&topic.name());
                                topics.remove(&topic);
                            }
                            link.set_streams(topics.iter().map(Topic::name));
                        }
                        out.push(ack.to_string());
                    }
                    _ => out.push(json!({"success": false, "ret_msg": format!("unsupported op: {op}"), "conn_id": pump.conn_id,
                        "req_id": req_id, "op": op}).to_string()),
                }
            }
            message = books.recv() => match message {
                Ok(m) if m.category == category => {
                    let key = (m.depth, m.symbol.clone());
                    if topics.contains(&Topic::Book(m.depth, m.symbol.clone())) {
                        // Right after the subscribe snapshot, messages it already covers (still
                        // queued here, snapshots too) are not sent again, as the venue sends
                        // nothing older than its snapshot; after that everything the topic
                        // publishes goes out as published, faults (repeats, reorders) included.
                        let covered = book_u.get(&key).copied();
                        if covered.is_none_or(|u| m.u > u || (m.u == 1 && u != 1)) {
                            book_u.remove(&key);
                            out.push(book_json(&m));
                        }
                    }
                }
                Ok(_) => {}
                Err(RecvError::Lagged(_)) | Err(RecvError::Closed) => return,
            },
            event = events.recv() => match event {
                Ok(event) => {
                    if let Event::Trade { symbol, .. } = &*event
                        && topics.contains(&Topic::Trades(symbol.clone())) {
                            out.push(trade_message(category, &event, market.clock.now_ms()));
                        }
                    if let Event::Liquidation { symbol, side, price, qty, time_ms } = &*event
                        && topics.contains(&Topic::Liquidations(symbol.clone())) {
                            // `S` is the liquidated position's side: a sell order closes a long.
                            let position = if *side == crate::book::Side::Sell { "Buy" } else { "Sell" };
                            out.push(json!({"topic": format!("allLiquidation.{symbol}"), "type": "snapshot",
                                "ts": market.clock.now_ms(), "data": [{"T": time_ms, "s": symbol, "S": position,
                                "v": num(*qty), "p": num(*price)}]}).to_string());
                        }
                }
                Err(RecvError::Lagged(_)) | Err(RecvError::Closed) => return,
            },
            _ = deck.turn() => {
                let names: std::collections::HashSet<String> = topics.iter().map(Topic::name).collect();
                deck.take(|frame| {
                    let wanted = names.contains(&frame.route);
                    if wanted {
                        out.push(frame.text.clone());
                    }
                    wanted
                });
            }
            _ = tick.tick() => {
                let now = market.clock.now_ms();
                let ex = market.lock();
                for topic in &topics {
                    if let Topic::Kline(interval, symbol) = topic
                        && let Some(span) = Span::bybit(interval)
                    {
                        let name = topic.name();
                        let due = klines.due(&name, span, &ex.symbols[symbol].candles, now, st.timing.kline_interval);
                        for (candle, closed) in due {
                            out.push(json!({"topic": name, "type": "snapshot", "ts": now,
                                "data": [kline_json(&candle, interval, closed, now)]}).to_string());
                        }
                    }
                    if let Topic::Tickers(symbol) = topic {
                        let first = ticker_sent.insert(symbol.clone());
                        let kind = if category == Category::Spot || first { "snapshot" } else { "delta" };
                        out.push(json!({"topic": format!("tickers.{symbol}"), "type": kind, "data": ticker(&ex, symbol, category, true, now),
                            "cs": ex.symbols[symbol].book.update_id, "ts": now}).to_string());
                    }
                }
            }
        }
        deck.writing();
        if !crate::wire::flush(&mut socket, &mut out, faults).await {
            return;
        }
    }
}

#[derive(Debug, Default)]
struct PrivateTopics {
    order: [bool; 2],
    execution: [bool; 2],
    wallet: bool,
    position: bool,
}

impl PrivateTopics {
    /// What the connection receives now, by category (what `Simulator.connections` shows).
    fn names(&self) -> Vec<String> {
        let by_category = [("order", self.order), ("execution", self.execution)];
        let categories = by_category.into_iter().flat_map(|(topic, on)| {
            ["spot", "linear"]
                .into_iter()
                .zip(on)
                .filter(|(_, on)| *on)
                .map(move |(category, _)| format!("{topic}.{category}"))
        });
        let single = [("wallet", self.wallet), ("position", self.position)];
        categories
            .chain(
                single
                    .into_iter()
                    .filter(|(_, on)| *on)
                    .map(|(t, _)| t.to_owned()),
            )
            .collect()
    }
}

fn private_topic(topics: &mut PrivateTopics, name: &str, on: bool) -> bool {
    let both = |flags: &mut [bool; 2]| *flags = [on, on];
    match name {
        "order" => both(&mut topics.order),
        "order.spot" => topics.order[0] = on,
        "order.linear" => topics.order[1] = on,
        "execution" => both(&mut topics.execution),
        "execution.spot" => topics.execution[0] = on,
        "execution.linear" => topics.execution[1] = on,
        "wallet" => topics.wallet = on,
        "position" | "position.linear" => topics.position = on,
        _ => return false,
    }
    true
}

async fn private_session(st: Arc<BybitState>, mut socket: WebSocket) {
    let faults = &st.spot.faults;
    let mut link = crate::wire::Link::open(&st.spot, "private", Vec::new());
    let mut spot_events = st.spot.lock().subscribe();
    let mut linear_events = st.linear.lock().subscribe();
    let conn = conn_id();
    let mut account: Option<usize> = None;
    let mut topics = PrivateTopics::default();
    let mut last_inbound = Instant::now();
    let end_of_life = Instant::now() + st.timing.max_connection_lifetime;
    let mut out: Vec<String> = Vec::new();
    let mut message_no = 0u64;
    let mut user_events = crate::wire::UserEvents::default();
    loop {
        if !link.thawed().await {
            return;
        }
        let idle_deadline = last_inbound + st.timing.bybit_idle_timeout;
        let mut push = |topic: &str, data: Vec<Value>, now: i64| {
            message_no += 1;
            let message = json!({"id": uuid(0x9e11, message_no), "topic": topic, "creationTime": now, "data": data});
            user_events.push(faults, message.to_string(), &mut out);
        };
        tokio::select! {
            _ = link.changed() => continue,
            _ = sleep_until(end_of_life.min(idle_deadline)) => {
                let _ = socket.send(Message::Close(None)).await;
                return;
            }
            incoming = socket.recv() => {
                let Some(Ok(message)) = incoming else { return };
                last_inbound = Instant::now();
                let Message::Text(text) = message else { continue };
                let request: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
                let op = request.get("op").and_then(Value::as_str).unwrap_or("");
                let req_id = request.get("req_id").cloned();
                if op == "subscribe" || op == "unsubscribe" {
                    tokio::time::sleep(st.timing.control_reply_delay).await;
                }
                let mut reply = match op {
                    "ping" => json!({"op": "pong", "args": [st.spot.clock.now_ms().to_string()], "conn_id": conn}),
                    "auth" => {
                        let args = request.get("args").and_then(Value::as_array).cloned().unwrap_or_default();
                        match ws_auth(&st, &args) {
                            Ok(a) => {
                                account = Some(a);
                                json!({"success": true, "ret_msg": "", "op": "auth", "conn_id": conn})
                            }
                            Err(why) => json!({"success": false, "ret_msg": why, "op": "auth", "conn_id": conn}),
                        }
                    }
                    "subscribe" | "unsubscribe" => {
                        let args: Vec<String> = request.get("args").and_then(Value::as_array).map(|a| {
                            a.iter().filter_map(Value::as_str).map(str::to_owned).collect()
                        }).unwrap_or_default();
                        if account.is_none() {
                            json!({"success": false, "ret_msg": "Request not authorized", "op": op, "conn_id": conn})
                        } else if let Some(bad) = args.iter().find(|a| !private_topic(&mut PrivateTopics::default(), a, true)) {
                            json!({"success": false, "ret_msg": format!("Invalid topic :[{bad}]"), "op": op, "conn_id": conn})
                        } else {
                            for a in &args {
                                private_topic(&mut topics, a, op == "subscribe");
                            }
                            link.set_streams(topics.names());
                            json!({"success": true, "ret_msg": "", "op": op, "conn_id": conn})
                        }
                    }
                    _ => json!({"success": false, "ret_msg": format!("unsupported op: {op}"), "op": op, "conn_id": conn}),
                };
                if let Some(id) = req_id {
                    reply["req_id"] = id;
                }
                out.push(reply.to_string());
            }
            event = spot_events.recv() => match event {
                Ok(event) => private_event(&st, Kind::Spot, &event, account, &topics, &mut push),
                Err(RecvError::Lagged(_)) | Err(RecvError::Closed) => return,
            },
            event = linear_events.recv() => match event {
                Ok(event) => private_event(&st, Kind::Perp, &event, account, &topics, &mut push),
                Err(RecvError::Lagged(_)) | Err(RecvError::Closed) => return,
            },
        }
        if !crate::wire::flush(&mut socket, &mut out, faults).await {
            return;
        }
    }
}

fn private_event(
    st: &BybitState,
    kind: Kind,
    event: &Event,
    account: Option<usize>,
    topics: &PrivateTopics,
    push: &mut impl FnMut(&str, Vec<Value>, i64),
) {
    let Some(me) = account else { return };
    let (category, slot) = if kind == Kind::Spot {
        (Category::Spot, 0)
    } else {
        (Category::Linear, 1)
    };
    let market = st.market(category);
    let now = market.clock.now_ms();
    match event {
        Event::Execution {
            account,
            order,
            fill,
            ..
        } if *account == me => {
            let ex = market.lock();
            if topics.order[slot] {
                push("order", vec![order_json(&ex, order, category)], now);
            }
            if let (Some(f), true) = (fill, topics.execution[slot]) {
                push(
                    "execution",
                    vec![execution_json(&ex, order, f, category)],
                    now,
                );
            }
        }
        Event::Balances {
            account, assets, ..
        } if *account == me && topics.wallet => {
            // One unified account: a coin's wallet is its spot and linear funds together, as
            // `wallet-balance` reports it (the event names the coins that changed).
            let unified = |coin: &str| {
                let (mut free, mut locked) =
                    (rust_decimal::Decimal::ZERO, rust_decimal::Decimal::ZERO);
                for market in [&st.spot, &st.linear] {
                    if let Some(b) = market.lock().accounts[me].balances.get(coin) {
                        free += b.free;
                        locked += b.locked;
                    }
                }
                crate::exchange::Balance { free, locked }
            };
            let coins: Vec<Value> = assets
                .iter()
                .map(|(coin, _)| {
                    let b = unified(coin);
                    let wallet = b.free + b.locked;
                    json!({"coin": coin, "equity": num(wallet), "usdValue": num(wallet), "walletBalance": num(wallet),
                        "locked": num(b.locked), "availableToWithdraw": "", "availableToBorrow": "", "borrowAmount": "0",
                        "accruedInterest": "0", "totalOrderIM": num(b.locked), "totalPositionIM": "0", "totalPositionMM": "0",
                        "unrealisedPnl": "0", "cumRealisedPnl": "0", "bonus": "0", "collateralSwitch": true,
                        "marginCollateral": true, "spotBorrow": "0", "free": num(b.free)})
                })
                .collect();
            push(
                "wallet",
                vec![
                    json!({"accountType": "UNIFIED", "accountIMRate": "0", "accountMMRate": "0",
                "totalEquity": "", "totalWalletBalance": "", "totalMarginBalance": "", "totalAvailableBalance": "",
                "totalPerpUPL": "0", "totalInitialMargin": "0", "totalMaintenanceMargin": "0", "coin": coins}),
                ],
                now,
            );
        }
        Event::Position {
            account, symbol, ..
        } if *account == me && topics.position && kind == Kind::Perp => {
            let ex = market.lock();
            push("position", positions_json(&ex, me, symbol), now);
        }
        _ => {}
    }
}
