//! Recording into Python: a recorder attached to a connector's tap, and a reader of
//! recordings handing entries over in batches.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyModule};
use tradewire_core::record::{Entries, Meta, RecordOptions, Recorder, Recording, Tap};

use crate::connector::NativeConnector;
use crate::errors::IntoPyResult;

/// A recorder writing what one connector receives (market frames and public REST answers).
#[pyclass(module = "tradewire._native", frozen)]
pub struct NativeRecorder {
    recorder: Arc<Recorder>,
    connector: Arc<tradewire_core::connector::Connector>,
}

#[pymethods]
impl NativeRecorder {
    /// Starts recording `connector` into `dir` (created; refused if it holds a recording).
    #[new]
    #[pyo3(signature = (connector, dir, symbols, channels, rotate_bytes, rotate_seconds, flush_ms = 1000))]
    #[allow(clippy::too_many_arguments)] // Python's keyword arguments
    fn new(
        py: Python<'_>,
        connector: &NativeConnector,
        dir: PathBuf,
        symbols: Vec<String>,
        channels: Vec<String>,
        rotate_bytes: u64,
        rotate_seconds: f64,
        flush_ms: u64,
    ) -> PyResult<NativeRecorder> {
        let core = connector.inner.clone();
        let meta = Meta {
            format: tradewire_core::record::FORMAT.into(),
            version: tradewire_core::record::VERSION,
            venue: core.venue.to_string(),
            market: core.market.to_string(),
            started_ns: tradewire_core::model::now_ns(),
            symbols,
            channels,
            writer: format!("tradewire {}", env!("CARGO_PKG_VERSION")),
        };
        let options = RecordOptions {
            rotate_bytes: rotate_bytes.max(1),
            rotate_after: Duration::try_from_secs_f64(rotate_seconds)
                .unwrap_or(Duration::MAX)
                .max(Duration::from_millis(1)),
            flush_every: Duration::from_millis(flush_ms.max(1)),
            ..RecordOptions::default()
        };
        let recorder = Recorder::create(&dir, &meta, options).py_err(py)?;
        let tap: Arc<dyn Tap> = recorder.clone();
        core.http.tap.set(Some(tap));
        Ok(NativeRecorder {
            recorder,
            connector: core,
        })
    }

    /// Reads the symbol listing afresh, so the recording holds it (a replay's symbol rules).
    /// Awaitable.
    fn record_listing<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let connector = self.connector.clone();
        crate::runtime::future_into_py(py, async move {
            connector
                .refresh_symbols()
                .await
                .map_err(crate::connector::py_err)?;
            Ok(())
        })
    }

    /// `{entries, raw_bytes, bytes, files, lost, error}` so far.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        stats_dict(py, &self.recorder.stats())
    }

    /// Detaches from the connector, writes what is queued and closes the files; the final
    /// stats. Blocking (a second at most): call it from a thread.
    fn close<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        // Only ours: a later recorder attached in between stays.
        let ours: Arc<dyn Tap> = self.recorder.clone();
        if let Some(current) = self.connector.http.tap.get()
            && Arc::ptr_eq(&current, &ours)
        {
            self.connector.http.tap.set(None);
        }
        let recorder = self.recorder.clone();
        let stats = py.detach(move || recorder.close());
        stats_dict(py, &stats)
    }
}

fn stats_dict<'py>(
    py: Python<'py>,
    stats: &tradewire_core::record::RecordStats,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("entries", stats.entries)?;
    d.set_item("raw_bytes", stats.raw_bytes)?;
    d.set_item("bytes", stats.bytes)?;
    d.set_item("files", stats.files)?;
    d.set_item("lost", stats.lost)?;
    d.set_item("error", stats.error.clone())?;
    Ok(d)
}

/// `(file, first_ns, last_ns, entries)`.
type SegmentRow = (String, Option<i64>, Option<i64>, Option<u64>);

/// A recording opened for reading: its meta, segments, and entries in batches.
#[pyclass(module = "tradewire._native")]
pub struct NativeRecording {
    recording: Recording,
    entries: Mutex<Option<Entries>>,
}

#[pymethods]
impl NativeRecording {
    #[new]
    #[pyo3(signature = (dir, start_ns = None, end_ns = None))]
    fn new(
        py: Python<'_>,
        dir: PathBuf,
        start_ns: Option<i64>,
        end_ns: Option<i64>,
    ) -> PyResult<Self> {
        let recording = Recording::open(&dir).py_err(py)?;
        let entries = recording.entries(start_ns, end_ns);
        Ok(NativeRecording {
            recording,
            entries: Mutex::new(Some(entries)),
        })
    }

    /// `meta.json` as a dict.
    fn meta<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let m = &self.recording.meta;
        let d = PyDict::new(py);
        d.set_item("format", &m.format)?;
        d.set_item("version", m.version)?;
        d.set_item("venue", &m.venue)?;
        d.set_item("market", &m.market)?;
        d.set_item("started_ns", m.started_ns)?;
        d.set_item("symbols", m.symbols.clone())?;
        d.set_item("channels", m.channels.clone())?;
        d.set_item("writer", &m.writer)?;
        Ok(d)
    }

    /// The segment files in order, as `(file, first_ns, last_ns, entries)`; `None`s for one
    /// the writer did not close.
    fn segments(&self) -> Vec<SegmentRow> {
        self.recording
            .segments
            .iter()
            .map(|s| (s.file.clone(), s.first_ns, s.last_ns, s.entries))
            .collect()
    }

    /// Up to `n` next entries as `(at_ns, conn, kind, path, text)`; empty at the end.
    fn next_batch(
        &self,
        py: Python<'_>,
        n: usize,
    ) -> Vec<(i64, String, &'static str, String, String)> {
        let mut guard = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let Some(entries) = guard.as_mut() else {
            return Vec::new();
        };
        py.detach(|| {
            entries
                .by_ref()
                .take(n.max(1))
                .map(|e| {
                    let kind = match e.kind {
                        tradewire_core::record::EntryKind::Ws => "ws",
                        tradewire_core::record::EntryKind::Rest => "rest",
                        tradewire_core::record::EntryKind::Lost => "lost",
                    };
                    (e.at_ns, e.conn, kind, e.path, e.text)
                })
                .collect()
        })
    }

    /// Where reading stopped short so far: `(file, offset, reason)`.
    fn damage(&self) -> Vec<(String, usize, String)> {
        let guard = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        guard.as_ref().map_or_else(Vec::new, |e| {
            e.damage()
                .iter()
                .map(|d| (d.file.clone(), d.offset, d.reason.clone()))
                .collect()
        })
    }
}

/// A recording served on loopback on its venue's wire protocol (`tradewire_sim::replay`).
#[pyclass(module = "tradewire._native", frozen)]
pub struct NativeReplay {
    server: Mutex<Option<tradewire_sim::replay::ReplayServer>>,
    #[pyo3(get)]
    rest: String,
    #[pyo3(get)]
    ws: String,
    #[pyo3(get)]
    venue: String,
    #[pyo3(get)]
    market: String,
    /// Recorded messages served (frames and answers).
    #[pyo3(get)]
    messages: usize,
}

#[pymethods]
impl NativeReplay {
    /// Reads the recording in `dir` (within `start_ns..=end_ns`) and serves it; `speed` 1.0
    /// keeps its pace, `None` plays as fast as a client reads.
    #[new]
    #[pyo3(signature = (dir, speed = None, start_ns = None, end_ns = None))]
    fn new(
        py: Python<'_>,
        dir: PathBuf,
        speed: Option<f64>,
        start_ns: Option<i64>,
        end_ns: Option<i64>,
    ) -> PyResult<NativeReplay> {
        use tradewire_core::record::EntryKind;
        use tradewire_sim::replay::{Recorded, ReplayServer};
        let recording = Recording::open(&dir).py_err(py)?;
        let messages: Vec<Recorded> = py.detach(|| {
            recording
                .entries(start_ns, end_ns)
                .filter(|e| e.kind != EntryKind::Lost)
                .map(|e| Recorded {
                    at_ns: e.at_ns,
                    rest_path: (e.kind == EntryKind::Rest).then_some(e.path),
                    text: e.text,
                })
                .collect()
        });
        let count = messages.len();
        let binance = recording.meta.venue == "binance";
        let runtime = crate::runtime::runtime(py)?;
        let server = py
            .detach(|| runtime.block_on(ReplayServer::start(messages, binance, speed)))
            .map_err(|e| {
                crate::errors::raise(py, "TradewireError", format!("replay failed to start: {e}"))
            })?;
        Ok(NativeReplay {
            rest: server.rest.clone(),
            ws: server.ws.clone(),
            venue: recording.meta.venue.clone(),
            market: recording.meta.market.clone(),
            messages: count,
            server: Mutex::new(Some(server)),
        })
    }

    fn close(&self) {
        if let Some(server) = self.server.lock().unwrap_or_else(|p| p.into_inner()).take() {
            server.stop();
        }
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeRecorder>()?;
    m.add_class::<NativeRecording>()?;
    m.add_class::<NativeReplay>()?;
    Ok(())
}
