//! The gateway's subjects. Version 1, under a prefix (default `tw`):
//!
//! | subject | what | how |
//! |---|---|---|
//! | `tw.v1.md.<label>.trades.<symbol>` | public trades | publish ([`wire::TradeMsg`](crate::wire::TradeMsg)) |
//! | `tw.v1.md.<label>.tickers.<symbol>` | 24 h tickers | publish ([`wire::TickerMsg`](crate::wire::TickerMsg)) |
//! | `tw.v1.md.<label>.book.<symbol>` | every book diff, numbered | publish ([`wire::BookDiffMsg`](crate::wire::BookDiffMsg)) |
//! | `tw.v1.md.<label>.snapshot.<symbol>` | the whole book and its number | request/reply ([`wire::BookSnapshotMsg`](crate::wire::BookSnapshotMsg)) |
//! | `tw.v1.md.<label>.symbol.<symbol>` | a symbol's rules | request/reply ([`wire::SymbolInfoMsg`](crate::wire::SymbolInfoMsg)) |
//! | `tw.v1.md.<label>.served` | what the gateway serves | request/reply ([`wire::ServedMsg`](crate::wire::ServedMsg)) |
//!
//! `<label>` names a venue market as connectors do (`binance-spot`, `bybit-linear`);
//! `<symbol>` is the venue's spelling (`BTCUSDT`). Market data lives under `md.` so one NATS
//! permission (`tw.v1.md.>`) grants all of it and nothing else.

use tradewire_core::{Error, Result};

/// The schema version in every subject; a change that breaks readers gets a new one.
pub const VERSION: &str = "v1";

/// The default prefix.
pub const PREFIX: &str = "tw";

/// Builds the subjects of one prefix.
#[derive(Debug, Clone)]
pub struct Subjects {
    root: String,
}

impl Default for Subjects {
    fn default() -> Self {
        Subjects::new(PREFIX).expect("the default prefix is a token")
    }
}

impl Subjects {
    pub fn new(prefix: &str) -> Result<Subjects> {
        token("prefix", prefix)?;
        Ok(Subjects {
            root: format!("{prefix}.{VERSION}"),
        })
    }

    fn market_data(&self, label: &str, kind: &str, symbol: &str) -> Result<String> {
        token("label", label)?;
        token("symbol", symbol)?;
        Ok(format!("{}.md.{label}.{kind}.{symbol}", self.root))
    }

    pub fn trades(&self, label: &str, symbol: &str) -> Result<String> {
        self.market_data(label, "trades", symbol)
    }

    pub fn tickers(&self, label: &str, symbol: &str) -> Result<String> {
        self.market_data(label, "tickers", symbol)
    }

    pub fn book(&self, label: &str, symbol: &str) -> Result<String> {
        self.market_data(label, "book", symbol)
    }

    pub fn snapshot(&self, label: &str, symbol: &str) -> Result<String> {
        self.market_data(label, "snapshot", symbol)
    }

    pub fn symbol(&self, label: &str, symbol: &str) -> Result<String> {
        self.market_data(label, "symbol", symbol)
    }

    /// What every [`Subjects::symbol`] of `label` starts with (the symbol follows).
    pub fn symbol_prefix(&self, label: &str) -> Result<String> {
        token("label", label)?;
        Ok(format!("{}.md.{label}.symbol.", self.root))
    }

    pub fn served(&self, label: &str) -> Result<String> {
        token("label", label)?;
        Ok(format!("{}.md.{label}.served", self.root))
    }
}

/// A subject token: letters, digits, `-` and `_` (NATS splits on `.`, and `*`, `>` and
/// white space are not allowed). Venue symbols and labels are all of this form; anything else
/// is refused rather than rewritten, so a subject always names exactly one thing.
pub fn token<'a>(field: &str, text: &'a str) -> Result<&'a str> {
    let ok = !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(text)
    } else {
        Err(Error::invalid_argument(
            field,
            format!("{text:.70?} cannot be a subject token: use letters, digits, '-' and '_'"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_each_stream_under_its_version_and_label() {
        let s = Subjects::default();
        assert_eq!(
            s.trades("binance-spot", "BTCUSDT").unwrap(),
            "tw.v1.md.binance-spot.trades.BTCUSDT"
        );
        assert_eq!(
            s.snapshot("bybit-linear", "ETHUSDT").unwrap(),
            "tw.v1.md.bybit-linear.snapshot.ETHUSDT"
        );
        assert_eq!(
            s.served("binance-usdm").unwrap(),
            "tw.v1.md.binance-usdm.served"
        );
        let prefix = s.symbol_prefix("binance-spot").unwrap();
        assert_eq!(
            format!("{prefix}BTCUSDT"),
            s.symbol("binance-spot", "BTCUSDT").unwrap()
        );
    }

    #[test]
    fn refuses_what_would_change_the_subject() {
        let s = Subjects::default();
        for bad in ["BTC.USDT", "*", ">", "BTC USDT", ""] {
            assert!(
                matches!(
                    s.trades("binance-spot", bad),
                    Err(Error::InvalidArgument { .. })
                ),
                "{bad:?}"
            );
        }
        assert!(Subjects::new("a.b").is_err());
    }
}
