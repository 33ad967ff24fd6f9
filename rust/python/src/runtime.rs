//! The process's one Tokio runtime: started lazily on first use, a small fixed pool of worker
//! threads, never blocking interpreter exit (its threads do not keep the process alive, and
//! `shutdown()` at exit cancels every task). After `fork()` the child has no runtime threads, so
//! using it raises `ForkedProcessError` instead of deadlocking.

use std::future::Future;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::FutureExt;
use pyo3::prelude::*;
use pyo3::types::PyModule;
use tokio::runtime::Runtime;
use tokio_util::sync::CancellationToken;

use crate::errors::raise;

/// Overrides the number of worker threads (1 to [`MOST_WORKERS`]).
const WORKERS_VARIABLE: &str = "TRADEWIRE_WORKER_THREADS";
const MOST_WORKERS: usize = 64;

/// Worker threads: enough for network I/O and parsing, and a core left to Python. Two at most
/// by default: one thread parses every frame of a connection, and on two cores a second
/// worker only competes with the Python thread (the benchmark measured it). `Err` for a value
/// of the variable that is not a number of threads.
fn worker_count() -> Result<usize, String> {
    if let Ok(text) = std::env::var(WORKERS_VARIABLE) {
        return match text.trim().parse::<usize>() {
            Ok(n) if (1..=MOST_WORKERS).contains(&n) => Ok(n),
            _ => Err(format!(
                "{WORKERS_VARIABLE}={text:?}: expected a whole number from 1 to {MOST_WORKERS}"
            )),
        };
    }
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    Ok(cores.saturating_sub(1).clamp(1, 2))
}

struct Process {
    runtime: Runtime,
    pid: u32,
    root: CancellationToken,
}

static PROCESS: OnceLock<Process> = OnceLock::new();
static SHUT_DOWN: AtomicBool = AtomicBool::new(false);

fn process(py: Python<'_>) -> PyResult<&'static Process> {
    let process = match PROCESS.get() {
        Some(p) => p,
        None => {
            let workers = worker_count().map_err(|e| raise(py, "InvalidArgument", e))?;
            let built = py.detach(|| {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(workers)
                    .thread_name("tradewire")
                    .enable_all()
                    .build()
            });
            let runtime = built
                .map_err(|e| raise(py, "TradewireError", format!("cannot start runtime: {e}")))?;
            let candidate = Process {
                runtime,
                pid: std::process::id(),
                root: CancellationToken::new(),
            };
            // Another thread may have won the race; its runtime is the one everybody uses.
            let process = match PROCESS.set(candidate) {
                Ok(()) => PROCESS.get().expect("just set"),
                Err(loser) => {
                    let winner = PROCESS.get().expect("set by the winner");
                    py.detach(|| loser.runtime.shutdown_background());
                    winner
                }
            };
            let _ = pyo3_async_runtimes::tokio::init_with_runtime(&process.runtime);
            process
        }
    };
    if process.pid != std::process::id() {
        return Err(raise(
            py,
            "ForkedProcessError",
            "tradewire's runtime belongs to the parent process; after fork(), use tradewire only in the \
             parent, or start the child with the 'spawn' or 'forkserver' multiprocessing method"
                .to_owned(),
        ));
    }
    if SHUT_DOWN.load(Ordering::Acquire) {
        return Err(raise(
            py,
            "StreamClosed",
            "tradewire's runtime has been shut down".to_owned(),
        ));
    }
    Ok(process)
}

/// The runtime, starting it if needed.
pub fn runtime(py: Python<'_>) -> PyResult<&'static Runtime> {
    process(py).map(|p| &p.runtime)
}

/// A token cancelled at interpreter exit; every long-lived task hangs off it.
pub fn root_token(py: Python<'_>) -> PyResult<CancellationToken> {
    process(py).map(|p| p.root.clone())
}

/// Spawns `fut` on the runtime.
pub fn spawn<F>(py: Python<'_>, fut: F) -> PyResult<tokio::task::JoinHandle<F::Output>>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Ok(runtime(py)?.spawn(fut))
}

/// An asyncio awaitable of `fut`, run on the runtime. After interpreter exit has begun the
/// result is never delivered: completing an asyncio future means taking the GIL from a Tokio
/// thread, which during finalization ends that thread mid-call (an abort), and nobody awaits it
/// any more anyway.
pub fn future_into_py<F, T>(py: Python<'_>, fut: F) -> PyResult<Bound<'_, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'py> IntoPyObject<'py> + Send + 'static,
{
    runtime(py)?;
    pyo3_async_runtimes::tokio::future_into_py(py, async move {
        // A panic that escapes a call is a tradewire error (never `RustPanic`): the call fails,
        // the process and the connector go on.
        let result = match std::panic::AssertUnwindSafe(fut).catch_unwind().await {
            Ok(result) => result,
            Err(payload) => {
                let what = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".to_owned());
                Err(Python::attach(|py| {
                    crate::errors::to_pyerr(py, tradewire_core::Error::Internal(what))
                }))
            }
        };
        if is_shutting_down() {
            std::future::pending::<()>().await;
        }
        result
    })
}

pub fn is_shutting_down() -> bool {
    SHUT_DOWN.load(Ordering::Acquire)
}

/// How long exit lets Tokio threads finish handing results to Python. A thread that takes the
/// GIL once finalization has begun is ended mid-call by CPython, which aborts the process.
const EXIT_GRACE: std::time::Duration = std::time::Duration::from_millis(100);

/// Called from `atexit`: cancels every task, then gives threads that are delivering a result a
/// bounded moment with the GIL released. Never waits longer, so exit never hangs.
#[pyfunction]
fn shutdown(py: Python<'_>) {
    SHUT_DOWN.store(true, Ordering::Release);
    if let Some(process) = PROCESS.get() {
        process.root.cancel();
        if process.pid == std::process::id() {
            py.detach(|| std::thread::sleep(EXIT_GRACE));
        }
    }
}

/// Whether the runtime has been started in this process (it starts on first use).
#[pyfunction]
fn runtime_started() -> bool {
    PROCESS.get().is_some_and(|p| p.pid == std::process::id())
}

/// The number of Tokio worker threads tradewire uses (or will use, once started).
#[pyfunction]
fn worker_threads(py: Python<'_>) -> PyResult<usize> {
    match PROCESS.get() {
        Some(p) => Ok(p.runtime.metrics().num_workers()),
        None => worker_count().map_err(|e| raise(py, "InvalidArgument", e)),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(shutdown, m)?)?;
    m.add_function(wrap_pyfunction!(runtime_started, m)?)?;
    m.add_function(wrap_pyfunction!(worker_threads, m)?)?;
    Ok(())
}
