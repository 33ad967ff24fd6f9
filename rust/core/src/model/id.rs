//! Exchange ids (trade, order, client order ids) stored inline when they fit.
//!
//! Events are built on a Tokio thread and freed on Python's thread; a heap string per event
//! makes glibc free across threads and halves stream throughput. Binance numeric ids and the
//! 36-character UUIDs Bybit uses both fit inline, so the heap is only a fallback.

use arrayvec::ArrayString;

const INLINE: usize = 38;

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Repr {
    Inline(ArrayString<INLINE>),
    Heap(Box<str>),
}

/// An id as the venue spells it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(Repr);

impl Id {
    pub fn new(text: &str) -> Id {
        match ArrayString::from(text) {
            Ok(inline) => Id(Repr::Inline(inline)),
            Err(_) => Id(Repr::Heap(text.into())),
        }
    }

    /// An integer id (Binance trade and order ids) without going through a heap string.
    pub fn from_u64(value: u64) -> Id {
        // Hand-rolled: `fmt` machinery costs more than the rest of building a trade.
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        let mut rest = value;
        loop {
            at -= 1;
            digits[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        let text = std::str::from_utf8(&digits[at..]).expect("ASCII digits");
        Id(Repr::Inline(
            ArrayString::from(text).expect("20 digits fit inline"),
        ))
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Inline(s) => s.as_str(),
            Repr::Heap(s) => s,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.as_str().is_empty()
    }
}

impl Default for Id {
    fn default() -> Id {
        Id(Repr::Inline(ArrayString::new()))
    }
}

impl std::ops::Deref for Id {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Id {
    fn from(text: &str) -> Id {
        Id::new(text)
    }
}

impl From<String> for Id {
    fn from(text: String) -> Id {
        Id::new(&text)
    }
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Id;

    #[test]
    fn inline_and_heap_ids_behave_the_same() {
        // case 0: a Binance id larger than 2^53
        assert_eq!(Id::from_u64(u64::MAX).as_str(), "18446744073709551615");
        // case 1: a Bybit UUID stays inline
        let uuid = Id::new("a0d8c0f8-5d5e-4a3f-9c7b-1b2c3d4e5f60");
        assert!(matches!(uuid.0, super::Repr::Inline(_)));
        // case 2: anything longer still works, on the heap
        let long = "x".repeat(100);
        assert_eq!(Id::new(&long).as_str(), long);
        assert_eq!(Id::new("7"), Id::from_u64(7));
        assert_eq!(Id::from_u64(0).as_str(), "0");
        assert_eq!(Id::from_u64(1000).as_str(), "1000");
        assert!(Id::default().is_empty());
    }
}
