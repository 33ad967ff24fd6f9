//! The baseline of `benches/peers` (`raw-rust`): the least a Rust program can do with the same
//! Binance spot stream, to show what this machine allows. One current-thread Tokio runtime,
//! tokio-tungstenite, serde_json borrowing the frame's text, rust_decimal; for books a
//! `BTreeMap` book kept by the venue's recipe (the diffs buffered, one REST snapshot, `U`/`u`
//! chained) whose best levels are read after every diff. No reconnects, no limits, no checks
//! beyond the recipe: an upper bound, not a product.
//!
//! It speaks the peers harness's child protocol (`benches/peers/child.py`): one JSON config as
//! its argument; commands on stdin (`arm`, `stats`, `quit`); `@@peers {...}` lines on stdout;
//! each play's consumer ids and wall-clock times written to the armed file as little-endian
//! i64 arrays.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

type Failure = Box<dyn std::error::Error>;

fn emit(message: &Value) {
    let mut out = std::io::stdout().lock();
    // The parent reads these lines; a closed pipe means it is gone, and so should we be.
    if writeln!(out, "@@peers {message}")
        .and_then(|()| out.flush())
        .is_err()
    {
        std::process::exit(0);
    }
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// CPU seconds of every thread of this process (`/proc/self/task/*/schedstat`, ns).
fn cpu_seconds() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return f64::NAN;
    };
    let mut ns = 0u64;
    for task in tasks.flatten() {
        let path = task.path().join("schedstat");
        if let Ok(text) = std::fs::read_to_string(path) {
            ns += text
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    ns as f64 / 1e9
}

fn status_bytes(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

#[derive(Deserialize)]
struct Trade<'a> {
    t: i64,
    p: &'a str,
    q: &'a str,
}

#[derive(Deserialize)]
struct Diff<'a> {
    #[serde(rename = "U")]
    first: u64,
    #[serde(rename = "u")]
    last: u64,
    #[serde(borrow)]
    b: Vec<(&'a str, &'a str)>,
    #[serde(borrow)]
    a: Vec<(&'a str, &'a str)>,
}

#[derive(Deserialize)]
struct Snapshot {
    #[serde(rename = "lastUpdateId")]
    last: u64,
    bids: Vec<(String, String)>,
    asks: Vec<(String, String)>,
}

type Levels = Vec<(Decimal, Decimal)>;

#[derive(Default)]
struct Book {
    bids: BTreeMap<Decimal, Decimal>,
    asks: BTreeMap<Decimal, Decimal>,
    last: Option<u64>,
    buffered: Vec<(u64, u64, Levels, Levels)>,
    broken: bool,
}

fn level(price: &str, qty: &str) -> Result<(Decimal, Decimal), Failure> {
    Ok((Decimal::from_str(price)?, Decimal::from_str(qty)?))
}

impl Book {
    fn load(&mut self, snapshot: Snapshot) -> Result<(), Failure> {
        for (side, levels) in [
            (&mut self.bids, snapshot.bids),
            (&mut self.asks, snapshot.asks),
        ] {
            side.clear();
            for (p, q) in levels {
                let (p, q) = level(&p, &q)?;
                side.insert(p, q);
            }
        }
        self.last = Some(snapshot.last);
        for (first, last, b, a) in std::mem::take(&mut self.buffered) {
            self.apply(first, last, b, a);
        }
        Ok(())
    }

    /// Whether the diff moved the book.
    fn apply(&mut self, first: u64, last: u64, b: Levels, a: Levels) -> bool {
        let Some(have) = self.last else {
            self.buffered.push((first, last, b, a));
            return false;
        };
        if last <= have {
            return false;
        }
        if first > have + 1 {
            self.broken = true;
        }
        for (side, changes) in [(&mut self.bids, b), (&mut self.asks, a)] {
            for (p, q) in changes {
                if q.is_zero() {
                    side.remove(&p);
                } else {
                    side.insert(p, q);
                }
            }
        }
        self.last = Some(last);
        true
    }

    fn levels(&self) -> Value {
        if self.broken {
            return json!([[], []]);
        }
        let side = |m: &BTreeMap<Decimal, Decimal>| -> Vec<(String, String)> {
            m.iter()
                .map(|(p, q)| (p.to_string(), q.to_string()))
                .collect()
        };
        json!([side(&self.bids), side(&self.asks)])
    }
}

/// A play being measured: the consumer's ids and times from `first_id` to `last_id`.
struct Armed {
    first_id: i64,
    last_id: i64,
    file: String,
    ids: Vec<i64>,
    times: Vec<i64>,
    cpu0: f64,
    armed_ns: i64,
    end_ns: i64,
    cpu1: f64,
    finished: bool,
}

impl Armed {
    fn hit(&mut self, id: i64) {
        if self.finished || id < self.first_id {
            return;
        }
        let now = now_ns();
        self.ids.push(id);
        self.times.push(now);
        if id >= self.last_id {
            self.cpu1 = cpu_seconds();
            self.end_ns = now;
            self.finished = true;
        }
    }

    fn last_seen(&self) -> i64 {
        self.times.last().copied().unwrap_or(self.armed_ns)
    }
}

/// Writes the play's arrays and says `done`.
fn report(armed: &mut Armed, book: Option<&Book>, error: Option<String>) -> Result<(), Failure> {
    if !armed.finished {
        armed.cpu1 = cpu_seconds();
        armed.end_ns = armed.last_seen();
    }
    let mut bytes = Vec::with_capacity(armed.ids.len() * 16);
    for v in armed.ids.iter().chain(&armed.times) {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(&armed.file, bytes)?;
    let cpu = armed.cpu1 - armed.cpu0;
    emit(&json!({
        "done": armed.finished,
        "events": armed.ids.len(),
        "reads": 0,
        "cpu": cpu,
        "main_cpu": cpu,
        "end_ns": armed.end_ns,
        "gaps": 0,
        "book": if armed.finished { book.map(Book::levels) } else { None },
        "error": error,
        "rss": status_bytes("VmRSS:"),
        "stats": null,
    }));
    Ok(())
}

/// GET over plain HTTP/1.1 (the simulator answers with a content-length).
async fn http_get(base: &str, path: &str) -> Result<String, Failure> {
    let host = base.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(host).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    let (head, body) = answer.split_once("\r\n\r\n").ok_or("no HTTP header end")?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!("GET {path}: {}", head.lines().next().unwrap_or("")).into());
    }
    Ok(body.to_owned())
}

async fn run(config: Value) -> Result<(), Failure> {
    let book_scenario = config["scenario"] == "book";
    let ws = config["endpoints"]["ws_public"]
        .as_str()
        .ok_or("no ws_public")?;
    let rest = config["endpoints"]["rest"]
        .as_str()
        .ok_or("no rest")?
        .to_owned();
    let stall = Duration::from_secs_f64(config["stall"].as_f64().unwrap_or(10.0));
    let stream = if book_scenario {
        "btcusdt@depth@100ms"
    } else {
        "btcusdt@trade"
    };
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("{ws}/ws/{stream}")).await?;

    let (commands_tx, mut commands) = mpsc::unbounded_channel::<Value>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if let Ok(command) = serde_json::from_str::<Value>(&line)
                && commands_tx.send(command).is_err()
            {
                break;
            }
        }
        let _ = commands_tx.send(json!({"cmd": "quit"}));
    });
    emit(&json!({"started": true}));

    let mut book = Book::default();
    let mut snapshot = if book_scenario {
        let path = "/api/v3/depth?symbol=BTCUSDT&limit=1000";
        Some(Box::pin(http_get(&rest, path)))
    } else {
        None
    };
    let mut armed: Option<Armed> = None;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            biased;
            frame = socket.next() => {
                let text = match frame {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Ping(payload))) => {
                        socket.send(Message::Pong(payload)).await?;
                        continue;
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Err(e.into()),
                    None => return Err("the stream closed".into()),
                };
                let id = if book_scenario {
                    let diff: Diff<'_> = serde_json::from_str(text.as_str())?;
                    let parse = |levels: Vec<(&str, &str)>| -> Result<Levels, Failure> {
                        levels.into_iter().map(|(p, q)| level(p, q)).collect()
                    };
                    let (b, a) = (parse(diff.b)?, parse(diff.a)?);
                    if !book.apply(diff.first, diff.last, b, a) {
                        continue;
                    }
                    // What every consumer does with a delivery: read the best levels.
                    std::hint::black_box((book.bids.last_key_value(), book.asks.first_key_value()));
                    i64::try_from(diff.last)?
                } else {
                    let trade: Trade<'_> = serde_json::from_str(text.as_str())?;
                    std::hint::black_box(level(trade.p, trade.q)?);
                    trade.t
                };
                if let Some(a) = armed.as_mut() {
                    a.hit(id);
                    if a.finished {
                        report(a, Some(&book), None)?;
                        armed = None;
                    }
                }
            }
            answer = async { snapshot.as_mut().expect("guarded").await }, if snapshot.is_some() => {
                snapshot = None;
                book.load(serde_json::from_str(&answer?)?)?;
            }
            command = commands.recv() => {
                let Some(command) = command else { break };
                match command["cmd"].as_str() {
                    Some("arm") => {
                        armed = Some(Armed {
                            first_id: command["first_id"].as_i64().ok_or("first_id")?,
                            last_id: command["last_id"].as_i64().ok_or("last_id")?,
                            file: command["file"].as_str().ok_or("file")?.to_owned(),
                            ids: Vec::new(),
                            times: Vec::new(),
                            cpu0: cpu_seconds(),
                            armed_ns: now_ns(),
                            end_ns: 0,
                            cpu1: 0.0,
                            finished: false,
                        });
                        emit(&json!({"armed": true}));
                    }
                    Some("stats") => emit(&json!({"stats": null, "failure": null})),
                    _ => break,
                }
            }
            _ = tick.tick() => {
                if let Some(a) = armed.as_mut() {
                    let idle = u64::try_from(now_ns() - a.last_seen()).unwrap_or(0);
                    if idle > u64::try_from(stall.as_nanos()).unwrap_or(u64::MAX) {
                        let why = format!("stalled: nothing new for {} s", stall.as_secs());
                        report(a, Some(&book), Some(why))?;
                        armed = None;
                    }
                }
            }
        }
    }
    emit(&json!({"bye": true, "maxrss": status_bytes("VmHWM:"), "rss": []}));
    Ok(())
}

fn main() {
    let Some(config) = std::env::args()
        .nth(1)
        .and_then(|a| serde_json::from_str::<Value>(&a).ok())
    else {
        emit(&json!({"error": "usage: raw_reader '<json config>'"}));
        std::process::exit(2);
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            emit(&json!({"error": format!("runtime: {e}")}));
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(run(config)) {
        emit(&json!({"error": format!("raw_reader: {e}")}));
        std::process::exit(1);
    }
}
