//! The recorder: a bounded queue the connector's tap fills without waiting, and one writer
//! thread that compresses and appends (file writes and compression stay off the runtime).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{Entry, EntryKind, Meta, Tap, segment_name};
use crate::{Error, Result};

/// Uncompressed bytes that close a frame before its second is up.
const FRAME_BYTES: usize = 4 << 20;

/// How a recording is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordOptions {
    /// A segment is closed past this many compressed bytes...
    pub rotate_bytes: u64,
    /// ...or this long after it opened.
    pub rotate_after: Duration,
    /// Every this long what was received is compressed and written: a kill loses at most it.
    pub flush_every: Duration,
    /// Messages queued for the writer; beyond, they are counted as lost (never waited for).
    pub capacity: usize,
    /// zstd level.
    pub level: i32,
}

impl Default for RecordOptions {
    /// 64 MiB or an hour a segment, written every second, 100,000 messages queued, level 3.
    fn default() -> Self {
        RecordOptions {
            rotate_bytes: 64 << 20,
            rotate_after: Duration::from_secs(3600),
            flush_every: Duration::from_secs(1),
            capacity: 100_000,
            level: 3,
        }
    }
}

/// What a recorder has done so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordStats {
    /// Messages written (lost markers aside).
    pub entries: u64,
    /// Their text, uncompressed.
    pub raw_bytes: u64,
    /// Compressed bytes on disk.
    pub bytes: u64,
    /// Segments opened.
    pub files: u64,
    /// Messages not kept because the queue was full.
    pub lost: u64,
    /// Why the writer stopped, if it failed.
    pub error: Option<String>,
}

#[derive(Default)]
struct Counters {
    entries: AtomicU64,
    raw_bytes: AtomicU64,
    bytes: AtomicU64,
    files: AtomicU64,
    lost: AtomicU64,
    /// Lost since the writer last wrote a marker for them.
    unmarked: AtomicU64,
    error: Mutex<Option<String>>,
}

enum Msg {
    Entry(Entry),
    Close,
}

/// Writes what its tap receives into a recording directory.
pub struct Recorder {
    dir: PathBuf,
    tx: SyncSender<Msg>,
    counters: Arc<Counters>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Recorder {
    /// Starts a recording in `dir` (created; refused if it already holds one).
    pub fn create(dir: &Path, meta: &Meta, options: RecordOptions) -> Result<Arc<Recorder>> {
        let bad =
            |e: std::io::Error| Error::invalid_argument("dir", format!("{}: {e}", dir.display()));
        std::fs::create_dir_all(dir).map_err(bad)?;
        let meta_path = dir.join("meta.json");
        if meta_path.exists() {
            return Err(Error::invalid_argument(
                "dir",
                format!("{} already holds a recording", dir.display()),
            ));
        }
        let text =
            serde_json::to_string_pretty(meta).map_err(|e| Error::Internal(e.to_string()))?;
        std::fs::write(&meta_path, text).map_err(bad)?;
        let (tx, rx) = sync_channel(options.capacity.max(1));
        let counters = Arc::new(Counters::default());
        let writer = Writer {
            dir: dir.to_owned(),
            options,
            counters: counters.clone(),
            segment: None,
            next: 1,
            pending: Vec::new(),
            compressor: zstd::bulk::Compressor::new(options.level)
                .and_then(|mut c| {
                    c.include_checksum(true)?;
                    Ok(c)
                })
                .map_err(|e| Error::Internal(format!("zstd: {e}")))?,
        };
        let thread = std::thread::Builder::new()
            .name("tradewire-recorder".into())
            .spawn(move || writer.run(&rx))
            .map_err(|e| Error::Internal(format!("recorder thread: {e}")))?;
        Ok(Arc::new(Recorder {
            dir: dir.to_owned(),
            tx,
            counters,
            thread: Mutex::new(Some(thread)),
        }))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn stats(&self) -> RecordStats {
        let c = &self.counters;
        RecordStats {
            entries: c.entries.load(Ordering::Relaxed),
            raw_bytes: c.raw_bytes.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
            files: c.files.load(Ordering::Relaxed),
            lost: c.lost.load(Ordering::Relaxed),
            error: c.error.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }

    /// Writes what is queued, closes the segment and the index, and stops the writer (blocking:
    /// call it off the runtime). Later messages are counted as lost.
    pub fn close(&self) -> RecordStats {
        let _ = self.tx.send(Msg::Close);
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(thread) = thread
            && thread.join().is_err()
        {
            *self
                .counters
                .error
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = Some("the recorder's writer panicked".into());
        }
        self.stats()
    }

    fn push(&self, entry: Entry) {
        match self.tx.try_send(Msg::Entry(entry)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.counters.lost.fetch_add(1, Ordering::Relaxed);
                self.counters.unmarked.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

impl Tap for Recorder {
    fn frame(&self, conn: &str, at_ns: i64, text: &str) {
        self.push(Entry {
            at_ns,
            conn: conn.to_owned(),
            kind: EntryKind::Ws,
            path: String::new(),
            text: text.to_owned(),
        });
    }

    fn rest(&self, path: &str, at_ns: i64, text: &str) {
        self.push(Entry {
            at_ns,
            conn: "rest".to_owned(),
            kind: EntryKind::Rest,
            path: path.to_owned(),
            text: text.to_owned(),
        });
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// One segment being written.
struct Segment {
    file: File,
    name: String,
    opened: Instant,
    first_ns: i64,
    last_ns: i64,
    entries: u64,
    bytes: u64,
}

/// An `index.jsonl` line.
#[derive(Serialize)]
struct IndexLine<'a> {
    file: &'a str,
    first_ns: i64,
    last_ns: i64,
    entries: u64,
    bytes: u64,
}

struct Writer {
    dir: PathBuf,
    options: RecordOptions,
    counters: Arc<Counters>,
    segment: Option<Segment>,
    next: u32,
    /// JSON lines received since the last frame was written.
    pending: Vec<u8>,
    compressor: zstd::bulk::Compressor<'static>,
}

impl Writer {
    fn run(mut self, rx: &Receiver<Msg>) {
        if let Err(e) = self.serve(rx) {
            tracing::error!(error = %e, dir = %self.dir.display(), "recorder stopped");
            *self
                .counters
                .error
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
        }
    }

    fn serve(&mut self, rx: &Receiver<Msg>) -> std::io::Result<()> {
        let mut last_flush = Instant::now();
        loop {
            let wait = self
                .options
                .flush_every
                .saturating_sub(last_flush.elapsed());
            match rx.recv_timeout(wait) {
                Ok(Msg::Entry(entry)) => {
                    self.add(&entry)?;
                    if self.pending.len() >= FRAME_BYTES {
                        self.flush()?;
                        last_flush = Instant::now();
                    }
                }
                Ok(Msg::Close) | Err(RecvTimeoutError::Disconnected) => {
                    self.flush()?;
                    return self.close_segment();
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
            if last_flush.elapsed() >= self.options.flush_every {
                self.flush()?;
                last_flush = Instant::now();
            }
        }
    }

    fn add(&mut self, entry: &Entry) -> std::io::Result<()> {
        let lost = self.counters.unmarked.swap(0, Ordering::Relaxed);
        if lost > 0 {
            let marker = Entry {
                at_ns: entry.at_ns,
                conn: entry.conn.clone(),
                kind: EntryKind::Lost,
                path: String::new(),
                text: lost.to_string(),
            };
            self.line(&marker)?;
        }
        self.line(entry)?;
        self.counters.entries.fetch_add(1, Ordering::Relaxed);
        self.counters
            .raw_bytes
            .fetch_add(entry.text.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    fn line(&mut self, entry: &Entry) -> std::io::Result<()> {
        if self.segment.is_none() {
            self.open_segment(entry.at_ns)?;
        }
        serde_json::to_writer(&mut self.pending, entry).map_err(std::io::Error::other)?;
        self.pending.push(b'\n');
        if let Some(s) = &mut self.segment {
            s.first_ns = s.first_ns.min(entry.at_ns);
            s.last_ns = s.last_ns.max(entry.at_ns);
            s.entries = s.entries.saturating_add(1);
        }
        Ok(())
    }

    fn open_segment(&mut self, at_ns: i64) -> std::io::Result<()> {
        let name = segment_name(self.next);
        self.next = self.next.saturating_add(1);
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(self.dir.join(&name))?;
        self.counters.files.fetch_add(1, Ordering::Relaxed);
        self.segment = Some(Segment {
            file,
            name,
            opened: Instant::now(),
            first_ns: at_ns,
            last_ns: at_ns,
            entries: 0,
            bytes: 0,
        });
        Ok(())
    }

    /// Compresses what is pending into one frame and appends it; rotates when due.
    fn flush(&mut self) -> std::io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let frame = self.compressor.compress(&self.pending)?;
        self.pending.clear();
        let Some(segment) = &mut self.segment else {
            return Ok(());
        };
        segment.file.write_all(&frame)?;
        segment.bytes = segment.bytes.saturating_add(frame.len() as u64);
        self.counters
            .bytes
            .fetch_add(frame.len() as u64, Ordering::Relaxed);
        if segment.bytes >= self.options.rotate_bytes
            || segment.opened.elapsed() >= self.options.rotate_after
        {
            self.close_segment()?;
        }
        Ok(())
    }

    /// Makes the segment durable and names it in the index.
    fn close_segment(&mut self) -> std::io::Result<()> {
        let Some(segment) = self.segment.take() else {
            return Ok(());
        };
        segment.file.sync_data()?;
        let line = IndexLine {
            file: &segment.name,
            first_ns: segment.first_ns,
            last_ns: segment.last_ns,
            entries: segment.entries,
            bytes: segment.bytes,
        };
        let mut text = serde_json::to_vec(&line).map_err(std::io::Error::other)?;
        text.push(b'\n');
        let mut index = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("index.jsonl"))?;
        index.write_all(&text)?;
        index.sync_data()
    }
}
