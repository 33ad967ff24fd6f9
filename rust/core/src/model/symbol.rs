//! Interned symbol names. Every event repeats its symbol; an interned `&'static str` makes that
//! a pointer copy instead of a reference count bouncing between the producer's and the
//! consumer's CPU caches. The set is bounded by the symbols a process subscribes to or looks up
//! (venues list a few thousand), so keeping them for the process's life is cheap.

use std::collections::HashSet;
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

    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

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
    fn interning_returns_the_same_storage() {
        let a = Symbol::new("BTCUSDT");
        let b = Symbol::new(&String::from("BTCUSDT"));
        assert_eq!(a, b);
        assert!(std::ptr::eq(a.as_str(), b.as_str()));
        assert_ne!(a, Symbol::new("ETHUSDT"));
        assert_eq!(&*a, "BTCUSDT");
    }
}
