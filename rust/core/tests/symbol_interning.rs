//! A finding of the fuzz work (issue 25): every symbol name read from the wire was interned for
//! the process's life, so a venue naming a new symbol in each frame grew memory without bound
//! (10,000 frames of 1 KB names: ~10 MB kept). Names from the wire are now interned only when
//! plausible and within `WIRE_SYMBOLS` (`model::Symbol::from_wire`). Its own process: the
//! bound is process-wide.
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
fn symbols_named_by_the_wire_do_not_stay_allocated() {
    let reader = tradewire_core::venue::adapter(Venue::Binance).market_reader(Market::Spot);
    let frame = |name: String| {
        format!(
            r#"{{"stream":"btcusdt@trade","data":{{"e":"trade","E":1,"s":"{name}","t":7,"p":"1","q":"1","T":2,"m":true}}}}"#
        )
    };
    let _ = reader.read(&frame("BTCUSDT".into()), 0);
    let before = LIVE.load(Ordering::Relaxed);
    for k in 1..=10_000 {
        let _ = reader.read(&frame(format!("{}{k}", "X".repeat(1_000))), 0);
    }
    let kept = LIVE.load(Ordering::Relaxed) - before;
    assert!(
        kept < 100_000,
        "10,000 frames of 1 KB names left {kept} bytes allocated"
    );
    // Plausible names: the first `WIRE_SYMBOLS` are kept (a symbol listed since the last
    // listing read), then no more.
    let mut refused = 0;
    for k in 0..200_000 {
        if reader.read(&frame(format!("JUNK{k}USDT")), 0).is_err() {
            refused += 1;
        }
    }
    let kept = LIVE.load(Ordering::Relaxed) - before;
    // BTCUSDT, never listed in this process, took one of them.
    assert_eq!(refused, 200_000 - (tradewire_core::model::WIRE_SYMBOLS - 1));
    assert!(
        kept < 2_000_000,
        "200,000 frames of new symbols left {kept} bytes allocated"
    );
}
