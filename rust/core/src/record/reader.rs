//! Reading a recording back: segments in order, frame by frame, entries oldest first per
//! segment. A torn or damaged frame (a kill mid-write, a bad disk) ends its segment's reading
//! there and is reported as [`Damage`]; everything before it, and every other segment, is read.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Entry, FORMAT, Meta, VERSION};
use crate::{Error, Result};

/// A segment as the index (or, for one the writer did not close, the directory) names it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SegmentInfo {
    pub file: String,
    /// The receive times it holds (`None`: not closed, so not indexed).
    #[serde(default)]
    pub first_ns: Option<i64>,
    #[serde(default)]
    pub last_ns: Option<i64>,
    #[serde(default)]
    pub entries: Option<u64>,
}

/// Where reading stopped short.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    pub file: String,
    /// Byte offset of the frame that could not be read.
    pub offset: usize,
    pub reason: String,
}

/// A recording directory, opened.
#[derive(Debug, Clone)]
pub struct Recording {
    pub dir: PathBuf,
    pub meta: Meta,
    pub segments: Vec<SegmentInfo>,
}

impl Recording {
    pub fn open(dir: &Path) -> Result<Recording> {
        let bad =
            |what: String| Error::invalid_argument("dir", format!("{}: {what}", dir.display()));
        let meta_text = std::fs::read_to_string(dir.join("meta.json"))
            .map_err(|e| bad(format!("not a recording (meta.json: {e})")))?;
        let meta: Meta = serde_json::from_str(&meta_text)
            .map_err(|e| bad(format!("meta.json unreadable: {e}")))?;
        if meta.format != FORMAT || meta.version > VERSION {
            return Err(bad(format!(
                "{} version {} is not a recording this tradewire reads ({FORMAT} up to {VERSION})",
                meta.format, meta.version
            )));
        }
        // A torn last line (a kill while the index was written) names a segment found below.
        let index = std::fs::read_to_string(dir.join("index.jsonl")).unwrap_or_default();
        let mut segments: Vec<SegmentInfo> = index
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect();
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .map_err(|e| bad(e.to_string()))?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|name| name.ends_with(".jsonl.zst"))
            .collect();
        files.sort();
        for file in files {
            if !segments.iter().any(|s| s.file == file) {
                segments.push(SegmentInfo {
                    file,
                    first_ns: None,
                    last_ns: None,
                    entries: None,
                });
            }
        }
        segments.sort_by(|a, b| a.file.cmp(&b.file));
        Ok(Recording {
            dir: dir.to_owned(),
            meta,
            segments,
        })
    }

    /// The entries received in `from_ns..=to_ns` (all if not given), in recorded order.
    pub fn entries(&self, from_ns: Option<i64>, to_ns: Option<i64>) -> Entries {
        let segments = self
            .segments
            .iter()
            .filter(|s| {
                from_ns.is_none_or(|f| s.last_ns.is_none_or(|l| l >= f))
                    && to_ns.is_none_or(|t| s.first_ns.is_none_or(|first| first <= t))
            })
            .map(|s| s.file.clone())
            .rev()
            .collect();
        Entries {
            dir: self.dir.clone(),
            segments,
            current: None,
            from_ns,
            to_ns,
            damage: Vec::new(),
        }
    }
}

/// One segment's bytes and where its next frame starts.
#[derive(Debug)]
struct Open {
    file: String,
    bytes: Vec<u8>,
    offset: usize,
    /// The decoded lines of the current frame not yet read.
    lines: std::vec::IntoIter<Entry>,
}

/// An iterator over a recording's entries.
#[derive(Debug)]
pub struct Entries {
    dir: PathBuf,
    /// Segments still to open, last first.
    segments: Vec<String>,
    current: Option<Open>,
    from_ns: Option<i64>,
    to_ns: Option<i64>,
    damage: Vec<Damage>,
}

impl Entries {
    /// Where reading stopped short so far.
    pub fn damage(&self) -> &[Damage] {
        &self.damage
    }

    fn in_range(&self, entry: &Entry) -> bool {
        self.from_ns.is_none_or(|f| entry.at_ns >= f) && self.to_ns.is_none_or(|t| entry.at_ns <= t)
    }

    /// The next frame's entries of the open segment; `false` at its end (or its damage).
    fn next_frame(&mut self) -> bool {
        let Some(open) = &mut self.current else {
            return false;
        };
        if open.offset >= open.bytes.len() {
            return false;
        }
        let rest = &open.bytes[open.offset..];
        let decoded = frame(rest);
        match decoded {
            Ok((size, entries)) => {
                open.offset = open.offset.saturating_add(size);
                open.lines = entries.into_iter();
                true
            }
            Err(reason) => {
                self.damage.push(Damage {
                    file: open.file.clone(),
                    offset: open.offset,
                    reason,
                });
                open.offset = open.bytes.len();
                false
            }
        }
    }
}

/// One zstd frame at the start of `bytes`: its compressed size and its entries.
fn frame(bytes: &[u8]) -> std::result::Result<(usize, Vec<Entry>), String> {
    let size = zstd::zstd_safe::find_frame_compressed_size(bytes)
        .map_err(|code| format!("torn frame ({})", zstd::zstd_safe::get_error_name(code)))?;
    let compressed = bytes.get(..size).ok_or("torn frame")?;
    let text = zstd::stream::decode_all(compressed).map_err(|e| format!("bad frame: {e}"))?;
    let mut entries = Vec::new();
    for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let entry: Entry = serde_json::from_slice(line).map_err(|e| format!("bad entry: {e}"))?;
        entries.push(entry);
    }
    Ok((size, entries))
}

impl Iterator for Entries {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        loop {
            if let Some(open) = &mut self.current
                && let Some(entry) = open.lines.next()
            {
                if self.in_range(&entry) {
                    return Some(entry);
                }
                continue;
            }
            if self.next_frame() {
                continue;
            }
            let file = self.segments.pop()?;
            match std::fs::read(self.dir.join(&file)) {
                Ok(bytes) => {
                    self.current = Some(Open {
                        file,
                        bytes,
                        offset: 0,
                        lines: Vec::new().into_iter(),
                    });
                }
                Err(e) => self.damage.push(Damage {
                    file,
                    offset: 0,
                    reason: e.to_string(),
                }),
            }
        }
    }
}
