//! Rust `tracing` → Python `logging`, under the `tradewire` logger
//! (`tradewire_core::supervise` logs as `tradewire.supervise`).
//!
//! Filtering happens in Rust against the Python logger's effective level, cached and refreshed
//! at most once a second whenever Python calls into the extension (the GIL is held then anyway),
//! so a disabled level costs an atomic load and never touches the interpreter. Records that
//! pass go through a bounded queue to one `tradewire-log` thread, the only one that takes the
//! GIL for logging: a Tokio worker that logs while holding a lock can never deadlock with a
//! Python thread waiting for that lock. Only our own crates' records are forwarded.

use std::fmt::Write;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{SystemTime, UNIX_EPOCH};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyModule;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

/// Python's numeric levels.
const DEBUG: u8 = 10;
const INFO: u8 = 20;
const WARNING: u8 = 30;
const ERROR: u8 = 40;
const TRACE: u8 = 5;

/// The `tradewire` logger's effective level, as last read (WARNING until first read).
static MIN_LEVEL: AtomicU8 = AtomicU8::new(WARNING);
static LAST_REFRESH_MS: AtomicI64 = AtomicI64::new(0);
static ROOT_LOGGER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Records waiting for the logging thread; beyond this, records are dropped and counted.
const QUEUE: usize = 10_000;
static SENDER: OnceLock<SyncSender<Job>> = OnceLock::new();
static DROPPED: AtomicU64 = AtomicU64::new(0);

enum Job {
    Record {
        name: String,
        level: u8,
        text: String,
    },
    /// Acknowledged once everything queued before it was handed to Python.
    Flush(std::sync::mpsc::Sender<()>),
}

fn log_thread(jobs: Receiver<Job>) {
    for job in jobs {
        match job {
            Job::Record { name, level, text } => {
                if crate::runtime::is_shutting_down() {
                    continue;
                }
                // try_attach: never initialise or touch an interpreter that is shutting down.
                let _ = Python::try_attach(|py| -> PyResult<()> {
                    let logger = py.import("logging")?.call_method1("getLogger", (name,))?;
                    logger.call_method1("log", (level, "%s", text))?;
                    Ok(())
                });
            }
            Job::Flush(ack) => {
                let _ = ack.send(());
            }
        }
    }
}

/// Whether a `tracing` target belongs to tradewire (others are not forwarded).
fn ours(target: &str) -> bool {
    ["tradewire_core", "tradewire_sim", "_native"]
        .iter()
        .any(|p| target.starts_with(p))
}

fn python_level(level: &Level) -> u8 {
    match *level {
        Level::ERROR => ERROR,
        Level::WARN => WARNING,
        Level::INFO => INFO,
        Level::DEBUG => DEBUG,
        Level::TRACE => TRACE,
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn root_logger(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    ROOT_LOGGER
        .get_or_try_init(py, || {
            py.import("logging")?
                .call_method1("getLogger", ("tradewire",))
                .map(Bound::unbind)
        })
        .map(|l| l.bind(py))
}

/// Re-reads the logger's level now.
#[pyfunction]
pub fn refresh_log_level(py: Python<'_>) -> PyResult<()> {
    let level: i64 = root_logger(py)?
        .call_method0("getEffectiveLevel")?
        .extract()?;
    MIN_LEVEL.store(level.clamp(0, 255) as u8, Ordering::Relaxed);
    LAST_REFRESH_MS.store(now_ms(), Ordering::Relaxed);
    Ok(())
}

/// Cheap when fresh; call from entry points that hold the GIL.
pub fn maybe_refresh(py: Python<'_>) {
    if now_ms() - LAST_REFRESH_MS.load(Ordering::Relaxed) >= 1000 {
        let _ = refresh_log_level(py);
    }
}

/// `tradewire_core::net::ws` → `tradewire.net.ws`; `_native::stream` → `tradewire.native.stream`.
fn logger_name(target: &str) -> String {
    let rest = target
        .strip_prefix("tradewire_core")
        .or_else(|| {
            target
                .strip_prefix("_native")
                .map(|r| if r.is_empty() { "::native" } else { r })
        })
        .unwrap_or(target);
    let mut name = String::from("tradewire");
    for part in rest.split("::").filter(|p| !p.is_empty()) {
        name.push('.');
        name.push_str(part);
    }
    name
}

#[derive(Default)]
struct Message {
    text: String,
    fields: String,
}

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.text, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.text.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }
}

struct PythonLogging;

impl<S: Subscriber> Layer<S> for PythonLogging {
    fn enabled(&self, metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        python_level(metadata.level()) >= MIN_LEVEL.load(Ordering::Relaxed)
            && ours(metadata.target())
            && !crate::runtime::is_shutting_down()
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut message = Message::default();
        event.record(&mut message);
        message.text.push_str(&message.fields);
        let metadata = event.metadata();
        let job = Job::Record {
            name: logger_name(metadata.target()),
            level: python_level(metadata.level()),
            text: message.text,
        };
        if let Some(sender) = SENDER.get()
            && let Err(TrySendError::Full(_)) = sender.try_send(job)
        {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let (sender, jobs) = sync_channel(QUEUE);
    if SENDER.set(sender).is_ok() {
        std::thread::Builder::new()
            .name("tradewire-log".into())
            .spawn(move || log_thread(jobs))
            .map_err(|e| {
                crate::errors::raise(
                    m.py(),
                    "TradewireError",
                    format!("cannot start logging: {e}"),
                )
            })?;
    }
    // A host application may have installed its own subscriber first; then it decides.
    let _ = tracing_subscriber::registry()
        .with(PythonLogging)
        .try_init();
    refresh_log_level(m.py())?;
    m.add_function(wrap_pyfunction!(refresh_log_level, m)?)?;
    m.add_function(wrap_pyfunction!(emit_test_log, m)?)?;
    Ok(())
}

/// Emits one `tracing` event at `level` from a runtime thread and waits for it (tests the bridge).
#[pyfunction]
fn emit_test_log(py: Python<'_>, level: &str, message: String) -> PyResult<()> {
    let level = level.to_ascii_uppercase();
    let (done, wait) = std::sync::mpsc::channel();
    crate::runtime::spawn(py, async move {
        match level.as_str() {
            "ERROR" => tracing::error!(target: "tradewire_core::bridge", "{message}"),
            "WARNING" => tracing::warn!(target: "tradewire_core::bridge", "{message}"),
            "INFO" => tracing::info!(target: "tradewire_core::bridge", "{message}"),
            _ => tracing::debug!(target: "tradewire_core::bridge", "{message}"),
        }
        let _ = done.send(());
    })?;
    let (ack, flushed) = std::sync::mpsc::channel::<()>();
    // The logging thread needs the GIL to hand the record over: release it while waiting.
    let timeout = std::time::Duration::from_secs(5);
    py.detach(move || {
        wait.recv_timeout(timeout).ok()?;
        SENDER.get()?.send(Job::Flush(ack)).ok()?;
        flushed.recv_timeout(timeout).ok()
    })
    .ok_or_else(|| {
        crate::errors::raise(
            py,
            "Timeout",
            "log record not delivered within 5 s".to_owned(),
        )
    })
}
