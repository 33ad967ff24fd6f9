//! The seeds: every real recorded message (tests/fixtures/real), by where it arrives.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use serde_json::Value;

/// One recorded message: where it came from, its exact text, and its JSON.
#[derive(Debug)]
pub struct Seed {
    pub name: String,
    pub text: String,
    pub value: Value,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/real")
}

/// The messages of one file: a `.jsonl` holds one a line (every `step`-th kept), a `.json` one.
fn read(path: &Path, step: usize) -> Vec<Seed> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let name = path
        .strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string();
    let lines: Vec<(String, String)> = if name.ends_with(".jsonl") {
        text.lines()
            .enumerate()
            .filter(|(k, l)| !l.trim().is_empty() && k % step == 0)
            .map(|(k, l)| (format!("{name}:{}", k + 1), l.to_owned()))
            .collect()
    } else {
        vec![(name, text)]
    };
    lines
        .into_iter()
        .map(|(name, text)| {
            let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            Seed { name, text, value }
        })
        .collect()
}

/// Every fixture of `kind` (`ws-public`, `ws-private`, `ws-api`, `rest`) of every venue-market.
fn of_kind(kind: &str) -> Vec<Seed> {
    let mut files = Vec::new();
    for market in ["binance-spot", "binance-usdm", "bybit-spot", "bybit-linear"] {
        let dir = root().join(market).join(kind);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        files.extend(entries.map(|e| e.expect("fixture dir").path()));
    }
    files.sort();
    let seeds: Vec<Seed> = files.iter().flat_map(|f| read(f, 1)).collect();
    assert!(!seeds.is_empty(), "no {kind} fixtures");
    seeds
}

/// Market-stream frames: the public fixtures, and a sample of the recorded book sessions
/// (deep snapshots, long diffs).
pub static MARKET: LazyLock<Vec<Seed>> = LazyLock::new(|| {
    let mut seeds = of_kind("ws-public");
    for session in [
        "binance-spot-NKNUSDT-2021-10",
        "binance-usdm-CTKUSDT-2021-07",
        "bybit-linear-XRPUSDT-2024-12-01",
    ] {
        let frames = root().join("sessions").join(session).join("frames.jsonl");
        seeds.extend(read(&frames, 10));
    }
    seeds
});

/// User-stream messages and WebSocket-API answers (both arrive on the user stream's socket).
pub static USER: LazyLock<Vec<Seed>> = LazyLock::new(|| {
    let mut seeds = of_kind("ws-private");
    seeds.extend(of_kind("ws-api"));
    seeds
});

/// REST answers, and the `result` of WebSocket-API order answers (the REST order shapes).
pub static REST: LazyLock<Vec<Seed>> = LazyLock::new(|| {
    let mut seeds = of_kind("rest");
    for api in of_kind("ws-api") {
        if let Some(result) = api.value.get("result").filter(|r| !r.is_null()) {
            seeds.push(Seed {
                name: format!("{} result", api.name),
                text: result.to_string(),
                value: result.clone(),
            });
        }
    }
    for session in [
        "binance-spot-NKNUSDT-2021-10",
        "binance-usdm-CTKUSDT-2021-07",
    ] {
        seeds.extend(read(
            &root().join("sessions").join(session).join("snapshot.json"),
            1,
        ));
    }
    seeds
});

/// A recorded book session: its depth frames in order and, for Binance, its REST snapshot.
#[derive(Debug)]
pub struct Session {
    pub name: &'static str,
    pub frames: Vec<String>,
    pub snapshot: Option<Value>,
}

pub static SESSIONS: LazyLock<Vec<Session>> = LazyLock::new(|| {
    [
        "binance-spot-NKNUSDT-2021-10",
        "binance-usdm-CTKUSDT-2021-07",
        "bybit-linear-XRPUSDT-2024-12-01",
    ]
    .into_iter()
    .map(|name| {
        let dir = root().join("sessions").join(name);
        let frames = std::fs::read_to_string(dir.join("frames.jsonl"))
            .expect("frames")
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect();
        let snapshot = std::fs::read_to_string(dir.join("snapshot.json"))
            .ok()
            .map(|t| serde_json::from_str(&t).expect("snapshot"));
        Session {
            name,
            frames,
            snapshot,
        }
    })
    .collect()
});
