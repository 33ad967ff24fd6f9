//! Recording: the market data the venues sent, kept on disk exactly as it arrived, to answer
//! "what did the venue send at 14:03:07?", to replay a session, and to build regression corpora.
//!
//! A recording is a directory: `meta.json` (what was recorded), segments `000001.jsonl.zst`,
//! ... and `index.jsonl` (one line per closed segment: its file, first and last receive time,
//! entries and bytes, for seeking by time). A segment is a run of zstd frames, each a whole
//! number of JSON lines (one [`Entry`] each) and closed every `flush_every` (a second): a process
//! killed mid-write loses at most that second, and a torn last frame is found and skipped by
//! the reader without touching what came before. zstd JSON lines rather than Parquet: frames
//! are appended and closed every second at no cost, a torn tail is one frame, the text of every
//! message stays byte-exact, and any zstd tool reads it (`zstd -dc 000001.jsonl.zst`).

mod reader;
mod writer;

pub use reader::{Damage, Entries, Recording, SegmentInfo};
pub use writer::{RecordOptions, RecordStats, Recorder};

use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

/// The format's name in `meta.json`.
pub const FORMAT: &str = "tradewire-recording";
/// Its version; a reader refuses a newer one.
pub const VERSION: u32 = 1;

/// What was recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    pub format: String,
    pub version: u32,
    pub venue: String,
    pub market: String,
    /// Unix ns when recording began.
    pub started_ns: i64,
    /// The symbols and channels asked for (informative).
    #[serde(default)]
    pub symbols: Vec<String>,
    #[serde(default)]
    pub channels: Vec<String>,
    /// The tradewire version that wrote it.
    pub writer: String,
}

/// What carried a recorded message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A market-stream frame.
    Ws,
    /// A public REST answer the connector read (snapshots, symbol listings, ...).
    Rest,
    /// Messages the recorder could not keep (its queue was full): `text` is how many.
    Lost,
}

/// One recorded message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Receive time, Unix ns.
    #[serde(rename = "t")]
    pub at_ns: i64,
    /// The connection it came on (`<url>#<shard>.<connection>`: a reconnect is a new one), or
    /// `rest`.
    #[serde(rename = "c")]
    pub conn: String,
    #[serde(rename = "k")]
    pub kind: EntryKind,
    /// A REST answer's path and query (no signed request is recorded).
    #[serde(rename = "p", default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    /// The message's text exactly as received.
    #[serde(rename = "m")]
    pub text: String,
}

/// Where a connector hands what it receives to a recorder.
pub trait Tap: Send + Sync + 'static {
    /// A market-stream frame received at `at_ns` on `conn`.
    fn frame(&self, conn: &str, at_ns: i64, text: &str);
    /// A public REST answer to `path` (with its query).
    fn rest(&self, path: &str, at_ns: i64, text: &str);
}

/// A connector's tap, if one is attached: read once per batch of frames or per request.
#[derive(Default)]
pub struct TapSlot(RwLock<Option<Arc<dyn Tap>>>);

impl std::fmt::Debug for TapSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("TapSlot")
            .field(&self.get().is_some())
            .finish()
    }
}

impl TapSlot {
    pub fn get(&self) -> Option<Arc<dyn Tap>> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Attaches `tap` (or detaches with `None`); the previous one, if any.
    pub fn set(&self, tap: Option<Arc<dyn Tap>>) -> Option<Arc<dyn Tap>> {
        std::mem::replace(&mut *self.0.write().unwrap_or_else(|p| p.into_inner()), tap)
    }
}

/// The segment file of number `n`.
fn segment_name(n: u32) -> String {
    format!("{n:06}.jsonl.zst")
}
