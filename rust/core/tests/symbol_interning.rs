//! Known finding of the fuzz work (issue 25), not fixed: every symbol name read from the wire is
//! interned for the process's life (`model::Symbol::new` leaks it), so a venue that names a new
//! symbol in each frame grows memory without bound, even though the frame itself is skipped as
//! foreign to its stream. Run with `--ignored` to see it; it passes once interning is bounded.
#![allow(unsafe_code)] // a counting allocator measures what stays allocated

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use tradewire_core::model::{Market, Venue};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts the bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
#[ignore = "known: symbols read from the wire are interned forever (10,000 frames leave ~10 MB)"]
fn symbols_named_by_the_wire_do_not_stay_allocated() {
    let reader = tradewire_core::venue::adapter(Venue::Binance).market_reader(Market::Spot);
    let frame = |k: usize| {
        format!(
            r#"{{"stream":"btcusdt@trade","data":{{"e":"trade","E":1,"s":"{}{k}","t":7,"p":"1","q":"1","T":2,"m":true}}}}"#,
            "X".repeat(1_000)
        )
    };
    let _ = reader.read(&frame(0), 0);
    let before = LIVE.load(Ordering::Relaxed);
    for k in 1..=10_000 {
        let _ = reader.read(&frame(k), 0);
    }
    let kept = LIVE.load(Ordering::Relaxed) - before;
    assert!(
        kept < 1_000_000,
        "10,000 frames of new symbols left {kept} bytes allocated"
    );
}
