//! Interned symbol names. Every event repeats its symbol; an interned `&'static str` makes that
//! a pointer copy instead of a reference count bouncing between the producer's and the
//! consumer's CPU caches. The set is bounded by the symbols a process subscribes to or looks up
//! (venues list a few thousand) plus at most [`WIRE_SYMBOLS`] names first seen on the wire, so
//! keeping them for the process's life is cheap.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{OnceLock, RwLock};

static TABLE: OnceLock<RwLock<HashSet<&'static str>>> = OnceLock::new();

/// A venue's symbol (`BTCUSDT`), interned: `Copy`, compared by content.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Symbol(&'static str);

impl Symbol {
    pub fn new(name: &str) -> Symbol {
        let table = TABLE.get_or_init(RwLock::default);
        if let Some(found) = table.read().unwrap_or_else(|p| p.into_inner()).get(name) {
            return Symbol(found);
        }
        let mut write = table.write().unwrap_or_else(|p| p.into_inner());
        if let Some(found) = write.get(name) {
            return Symbol(found);
        }
        let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
        write.insert(leaked);
        Symbol(leaked)
    }

    /// A symbol named by a venue's message: the interned one if listed (or already seen);
    /// else interned only while fewer than [`WIRE_SYMBOLS`] such names were, and only if it
    /// looks like a symbol. Interned names live for the process, so names the wire invents
    /// must not grow that without bound; a refused name makes its message a counted skip.
    pub fn from_wire(name: &str) -> Result<Symbol, String> {
        Symbol::from_wire_within(name, &WIRE_INTERNED, WIRE_SYMBOLS)
    }

    fn from_wire_within(name: &str, used: &AtomicUsize, most: usize) -> Result<Symbol, String> {
        let table = TABLE.get_or_init(RwLock::default);
        if let Some(found) = table.read().unwrap_or_else(|p| p.into_inner()).get(name) {
            return Ok(Symbol(found));
        }
        let plausible = !name.is_empty()
            && name.len() <= MAX_LEN
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_./:".contains(&b));
        if !plausible {
            return Err(format!("{name:.40?} is not a symbol name"));
        }
        // Claimed before interning, so racing readers never exceed the bound.
        let claimed = used.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < most).then_some(n + 1)
        });
        if claimed.is_err() {
            return Err(format!(
                "symbol {name} is not listed, and {most} unlisted names were already seen"
            ));
        }
        Ok(Symbol::new(name))
    }

    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

/// Names not in a listing that the wire may add to the table (a symbol listed after the last
/// listing read, a test's own names): far more than real venues list between two reads.
pub const WIRE_SYMBOLS: usize = 4096;

/// Longer than any venue's symbol (Binance caps at 20, Bybit's options run to ~25).
const MAX_LEN: usize = 40;

static WIRE_INTERNED: AtomicUsize = AtomicUsize::new(0);

impl std::ops::Deref for Symbol {
    type Target = str;

    fn deref(&self) -> &str {
        self.0
    }
}

impl From<&str> for Symbol {
    fn from(name: &str) -> Symbol {
        Symbol::new(name)
    }
}

impl std::fmt::Display for Symbol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::fmt::Debug for Symbol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Symbol;

    #[test]
    fn names_from_the_wire_are_interned_within_a_bound() {
        let listed = Symbol::new("LISTEDUSDT");
        assert_eq!(Symbol::from_wire("LISTEDUSDT"), Ok(listed));
        for bad in ["", "BTC USDT", "BTC\u{0}", &"A".repeat(41), "ÄUSDT"] {
            assert!(Symbol::from_wire(bad).is_err(), "{bad:?}");
        }
        // The process-wide bound is shared with other tests: this one counts on its own.
        let used = super::AtomicUsize::new(0);
        let wire = |name: &str| Symbol::from_wire_within(name, &used, 100);
        let fresh: Vec<_> = (0..110).map(|k| wire(&format!("JUNK{k}USDT"))).collect();
        assert_eq!(
            fresh.iter().filter(|s| s.is_ok()).count(),
            100,
            "up to the bound"
        );
        assert!(fresh[105].as_ref().unwrap_err().contains("not listed"));
        assert_eq!(
            wire("JUNK5USDT"),
            fresh[5],
            "one already interned still resolves"
        );
        // Listed names still resolve, and listings still intern.
        assert_eq!(wire("LISTEDUSDT"), Ok(listed));
        let late = Symbol::new("LATEUSDT");
        assert_eq!(wire("LATEUSDT"), Ok(late));
    }

    #[test]
    fn interning_returns_the_same_storage() {
        let a = Symbol::new("BTCUSDT");
        let b = Symbol::new(&String::from("BTCUSDT"));
        assert_eq!(a, b);
        assert!(std::ptr::eq(a.as_str(), b.as_str()));
        assert_ne!(a, Symbol::new("ETHUSDT"));
        assert_eq!(&*a, "BTCUSDT");
    }
}
