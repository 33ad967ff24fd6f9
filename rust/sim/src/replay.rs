//! Serving a recording on the venues' wire protocol: its REST answers to the requests that
//! read them, and its stream frames, in recorded order (paced by their receive times, or as
//! fast as the socket takes them), to whoever subscribes to their streams. Any client can be
//! pointed at recorded reality this way; tradewire's `Replay` reads through it.
//!
//! Book snapshots keep their place: the frames recorded after a snapshot are held back until a
//! client subscribed to that book has read the snapshot (or a few seconds have passed), so a
//! book rebuilt from the replay goes through the states it went through when recorded.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// One recorded message: a stream frame, or the answer to the REST `path` (with its query).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub at_ns: i64,
    pub rest_path: Option<String>,
    pub text: String,
}

/// How long a stream waits for a client to read the snapshot it is held for.
const SNAPSHOT_HOLD: Duration = Duration::from_secs(5);
/// Subscriptions usually come in a few requests: those within this long of each other are
/// played together, in their recorded interleaving.
const SETTLE: Duration = Duration::from_millis(200);

struct Frame {
    at_ns: i64,
    stream: String,
    text: String,
}

struct Answer {
    at_ns: i64,
    /// The query's parameters, signature parameters aside, sorted: what a request must match.
    asked: Vec<(String, String)>,
    symbol: Option<String>,
    text: String,
    /// Whether it is a book snapshot (of `symbol`).
    book: bool,
}

struct Replay {
    binance: bool,
    speed: Option<f64>,
    frames: Vec<Frame>,
    answers: HashMap<String, Vec<Answer>>,
    /// Per path, how many answers were served (the next unserved one answers next).
    served: Mutex<HashMap<String, usize>>,
    /// Receive times of the snapshots served so far.
    snapshots_served: Mutex<HashSet<i64>>,
    snapshot_read: Notify,
}

/// A running replay: its REST and WebSocket base URLs.
#[derive(Debug)]
pub struct ReplayServer {
    pub rest: String,
    pub ws: String,
    cancel: CancellationToken,
}

impl ReplayServer {
    /// Serves `messages` (in recorded order) as Binance (`binance`) or Bybit would, on
    /// loopback; `speed` 1.0 keeps the recorded pace, `None` sends as fast as the socket takes.
    /// Must run inside a Tokio runtime.
    pub async fn start(
        messages: Vec<Recorded>,
        binance: bool,
        speed: Option<f64>,
    ) -> std::io::Result<ReplayServer> {
        let mut frames = Vec::new();
        let mut answers: HashMap<String, Vec<Answer>> = HashMap::new();
        for m in messages {
            match m.rest_path {
                Some(target) => {
                    let (path, query) = target.split_once('?').unwrap_or((target.as_str(), ""));
                    let symbol = param(query, "symbol");
                    answers.entry(path.to_owned()).or_default().push(Answer {
                        at_ns: m.at_ns,
                        asked: unsigned(query),
                        book: path.ends_with("/depth") && symbol.is_some(),
                        symbol,
                        text: m.text,
                    });
                }
                None => {
                    let stream = stream_of(&m.text, binance).unwrap_or_default();
                    frames.push(Frame {
                        at_ns: m.at_ns,
                        stream,
                        text: m.text,
                    });
                }
            }
        }
        let replay = Arc::new(Replay {
            binance,
            speed: speed.filter(|s| *s > 0.0 && s.is_finite()),
            frames,
            answers,
            served: Mutex::default(),
            snapshots_served: Mutex::default(),
            snapshot_read: Notify::new(),
        });
        let cancel = CancellationToken::new();
        let rest_router = Router::new().fallback(rest).with_state(replay.clone());
        let rest_addr = crate::server::serve(rest_router, cancel.clone()).await?;
        let ws_router = Router::new().fallback(ws).with_state(replay);
        let ws_addr = crate::server::serve(ws_router, cancel.clone()).await?;
        Ok(ReplayServer {
            rest: format!("http://{rest_addr}"),
            ws: format!("ws://{ws_addr}"),
            cancel,
        })
    }

    pub fn stop(&self) {
        self.cancel.cancel();
    }
}

impl Drop for ReplayServer {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

fn param(query: &str, key: &str) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

/// The stream (Binance combined envelope) or topic (Bybit) a frame belongs to.
fn stream_of(text: &str, binance: bool) -> Option<String> {
    let value: Value = serde_json::from_str(text).ok()?;
    let key = if binance { "stream" } else { "topic" };
    value.get(key)?.as_str().map(str::to_owned)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A recorded answer to the request: the next unserved one of its path whose query matches
/// (exactly, else by symbol), else the path's last one again; the venues' clocks answer now.
async fn rest(State(replay): State<Arc<Replay>>, uri: Uri, RawQuery(query): RawQuery) -> Response {
    let path = uri.path();
    let query = query.unwrap_or_default();
    let now = now_ms();
    match path {
        "/api/v3/time" | "/fapi/v1/time" => return json_response(json!({"serverTime": now})),
        "/v5/market/time" => {
            let result = json!({"timeSecond": (now / 1000).to_string(), "timeNano": (now * 1_000_000).to_string()});
            return json_response(
                json!({"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": now}),
            );
        }
        _ => {}
    }
    let Some(list) = replay.answers.get(path) else {
        return not_recorded(&replay, path);
    };
    // Signed parameters are never recorded: compare what remains.
    let asked = unsigned(&query);
    let symbol = param(&query, "symbol");
    let answer = {
        let mut served = replay.served.lock().unwrap_or_else(|p| p.into_inner());
        let next = served.entry(path.to_owned()).or_default();
        let pick = list
            .iter()
            .enumerate()
            .skip(*next)
            .find(|(_, a)| a.asked == asked)
            .or_else(|| {
                list.iter()
                    .enumerate()
                    .skip(*next)
                    .find(|(_, a)| symbol.is_some() && a.symbol == symbol)
            });
        match pick {
            Some((i, a)) => {
                *next = i + 1;
                a
            }
            None => list
                .iter()
                .rev()
                .find(|a| symbol.is_none() || a.symbol == symbol)
                .unwrap_or(&list[list.len() - 1]),
        }
    };
    if answer.book {
        replay
            .snapshots_served
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(answer.at_ns);
        replay.snapshot_read.notify_waiters();
    }
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        answer.text.clone(),
    )
        .into_response()
}

fn unsigned(query: &str) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    pairs.retain(|(k, _)| !matches!(k.as_str(), "timestamp" | "signature" | "recvWindow"));
    pairs.sort();
    pairs
}

fn json_response(value: Value) -> Response {
    (StatusCode::OK, axum::Json(value)).into_response()
}

fn not_recorded(replay: &Replay, path: &str) -> Response {
    let msg = format!("{path} is not in the recording");
    let body = if replay.binance {
        json!({"code": -1, "msg": msg})
    } else {
        json!({"retCode": 10001, "retMsg": msg, "result": {}, "retExtInfo": {}, "time": now_ms()})
    };
    (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
}

async fn ws(State(replay): State<Arc<Replay>>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| session(replay, socket))
}

/// One client connection: answers its subscriptions and pings, and plays the frames of what
/// it subscribed to: streams subscribed together (within [`SETTLE`]) in their recorded
/// interleaving, each later group from the start of the recording on its own.
async fn session(replay: Arc<Replay>, mut socket: WebSocket) {
    let (tx, mut outbox) = tokio::sync::mpsc::channel::<String>(1024);
    let mut covered: HashSet<String> = HashSet::new();
    let mut pending: HashSet<String> = HashSet::new();
    let mut start_at: Option<Instant> = None;
    let mut players: Vec<tokio::task::JoinHandle<()>> = Vec::new();
    loop {
        tokio::select! {
            incoming = socket.recv() => {
                let Some(Ok(message)) = incoming else { break };
                let Message::Text(text) = message else { continue };
                let Ok(request) = serde_json::from_str::<Value>(text.as_str()) else { continue };
                let (reply, topics) = control(&replay, &request);
                if let Some(reply) = reply
                    && socket.send(Message::Text(reply.to_string().into())).await.is_err()
                {
                    break;
                }
                for topic in topics {
                    if covered.insert(topic.clone()) {
                        pending.insert(topic);
                        start_at.get_or_insert_with(|| Instant::now() + SETTLE);
                    }
                }
            }
            _ = tokio::time::sleep_until(start_at.unwrap_or_else(Instant::now)), if start_at.is_some() => {
                start_at = None;
                let topics = std::mem::take(&mut pending);
                players.push(tokio::spawn(play(replay.clone(), topics, tx.clone())));
            }
            frame = outbox.recv() => {
                let Some(frame) = frame else { break };
                if socket.send(Message::Text(frame.into())).await.is_err() {
                    break;
                }
            }
        }
    }
    for player in players {
        player.abort();
    }
}

/// The reply to a control message, and the topics it subscribes.
fn control(replay: &Replay, request: &Value) -> (Option<Value>, Vec<String>) {
    let names = |key: &str| -> Vec<String> {
        request
            .get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    if replay.binance {
        let id = request.get("id").cloned().unwrap_or(Value::Null);
        let topics = match request.get("method").and_then(Value::as_str) {
            Some("SUBSCRIBE") => names("params"),
            _ => Vec::new(),
        };
        (Some(json!({"result": null, "id": id})), topics)
    } else {
        let op = request.get("op").and_then(Value::as_str).unwrap_or("");
        let req_id = request.get("req_id").cloned().unwrap_or(json!(""));
        let reply = match op {
            "ping" => {
                json!({"success": true, "ret_msg": "pong", "conn_id": "replay", "req_id": req_id, "op": "ping"})
            }
            _ => {
                json!({"success": true, "ret_msg": "", "conn_id": "replay", "req_id": req_id, "op": op})
            }
        };
        let topics = if op == "subscribe" {
            names("args")
        } else {
            Vec::new()
        };
        (Some(reply), topics)
    }
}

/// Sends the frames of `topics` in recorded order, paced by `speed`.
async fn play(replay: Arc<Replay>, topics: HashSet<String>, tx: tokio::sync::mpsc::Sender<String>) {
    let Some(first) = replay.frames.first().map(|f| f.at_ns) else {
        return;
    };
    let started = Instant::now();
    // Snapshots in recorded order, with the book they are of.
    let mut snapshots: Vec<(i64, String)> = replay
        .answers
        .values()
        .flatten()
        .filter(|a| a.book)
        .filter_map(|a| Some((a.at_ns, a.symbol.as_ref()?.to_ascii_lowercase())))
        .collect();
    snapshots.sort();
    let mut next_snapshot = 0;
    for frame in &replay.frames {
        // A snapshot recorded before this frame, of a book this client follows: wait for it.
        while let Some((at, book)) = snapshots.get(next_snapshot) {
            if *at > frame.at_ns {
                break;
            }
            let follows = topics
                .iter()
                .any(|s| s.starts_with(&format!("{book}@depth")));
            if follows {
                let deadline = Instant::now() + SNAPSHOT_HOLD;
                loop {
                    let read = replay.snapshot_read.notified();
                    if replay
                        .snapshots_served
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .contains(at)
                        || Instant::now() >= deadline
                    {
                        break;
                    }
                    let _ = tokio::time::timeout_at(deadline, read).await;
                }
            }
            next_snapshot += 1;
        }
        if !topics.contains(&frame.stream) {
            continue;
        }
        if let Some(speed) = replay.speed {
            let offset = (frame.at_ns - first).max(0) as f64 / speed;
            tokio::time::sleep_until(started + Duration::from_nanos(offset as u64)).await;
        }
        if tx.send(frame.text.clone()).await.is_err() {
            return;
        }
    }
}
