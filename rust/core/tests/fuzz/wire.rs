//! Stream frames: every market reader and every user-stream reader (which also reads the
//! WebSocket API's answers) of all four venue markets, fed every mutated frame. A frame may be
//! read or refused; it may never panic, and what is read must go on through what the connector
//! does with it next (plausibility check, the book's sync rule, an order's refusal check).

use std::sync::{Arc, LazyLock};

use proptest::prelude::*;
use tradewire_core::model::{Market, Venue};
use tradewire_core::net::WsDialect;
use tradewire_core::resilience::ClockSync;
use tradewire_core::venue::binance::market::BinanceStreams;
use tradewire_core::venue::binance::user::{BinanceSpotUser, BinanceUsdmUser};
use tradewire_core::venue::bybit::market::{BybitPrivate, BybitStreams};
use tradewire_core::venue::{self, Credentials, MarketEvent, MarketReader, UserEvent, implausible};

use crate::corpus::{MARKET, USER};
use crate::mutate::mutation;
use crate::sync::Driven;
use crate::{config, regressions};

/// Every venue market tradewire serves.
pub const MARKETS: [(Venue, Market); 4] = [
    (Venue::Binance, Market::Spot),
    (Venue::Binance, Market::Usdm),
    (Venue::Bybit, Market::Spot),
    (Venue::Bybit, Market::Linear),
];

/// One reader per market for the whole run, as a connector keeps one (Bybit's folds ticker
/// deltas into what earlier frames said).
type Readers = Vec<(Venue, Market, Box<dyn MarketReader>)>;

static READERS: LazyLock<Readers> = LazyLock::new(|| {
    MARKETS
        .iter()
        .map(|&(v, m)| (v, m, venue::adapter(v).market_reader(m)))
        .collect()
});

/// Every dialect that tells control replies from data on a socket.
static DIALECTS: LazyLock<Vec<Arc<dyn WsDialect>>> = LazyLock::new(|| {
    let credentials = Arc::new(Credentials::new("key", "secret").expect("credentials"));
    let clock = Arc::new(ClockSync::new());
    vec![
        Arc::new(BinanceStreams),
        Arc::new(BinanceUsdmUser),
        Arc::new(BinanceSpotUser {
            credentials: credentials.clone(),
            clock: clock.clone(),
        }),
        Arc::new(BybitStreams),
        Arc::new(BybitPrivate { credentials, clock }),
    ]
});

fn market_frame(text: &str) -> Result<(), TestCaseError> {
    for dialect in DIALECTS.iter() {
        let _ = dialect.is_control(text);
    }
    for (venue, market, reader) in READERS.iter() {
        let topic = reader.topic_of(text);
        let symbol = topic.as_deref().and_then(|t| reader.symbol_of(t));
        let Ok(event) = reader.read(text, 0) else {
            continue;
        };
        let skipped = implausible(&event, symbol);
        if let (MarketEvent::Book(delta), None) = (&event, skipped) {
            // A plausible delta goes to its book: as an update, again (a repeat), and, on
            // Binance, as if it were the REST snapshot too.
            let mut book = Driven::new(*venue, *market);
            book.snapshot(delta)?;
            book.update(delta)?;
            book.update(delta)?;
        }
    }
    Ok(())
}

fn user_frame(text: &str) {
    for dialect in DIALECTS.iter() {
        let _ = dialect.is_control(text);
    }
    for (venue, market) in MARKETS {
        let adapter = venue::adapter(venue);
        let Ok(events) = adapter.user_events(market, text) else {
            continue;
        };
        let trading = adapter.trading(market);
        for event in events {
            if let UserEvent::Order(order, _) = event
                && let Some(refused) = trading.refusal(&order)
            {
                let _ = trading.names_a_filter(&refused);
            }
        }
    }
}

proptest! {
    #![proptest_config(config(regressions!("market_streams")))]

    #[test]
    fn no_market_frame_panics_any_reader(m in mutation()) {
        market_frame(&m.text(&MARKET))?;
    }
}

proptest! {
    #![proptest_config(config(regressions!("user_streams")))]

    #[test]
    fn no_user_stream_or_ws_api_frame_panics_any_reader(m in mutation()) {
        user_frame(&m.text(&USER));
    }
}

/// The frames that broke readers before (issue 25), kept as fixed inputs.
#[test]
fn known_hostile_frames_are_read_or_refused() {
    let deep = "[".repeat(100_000) + &"]".repeat(100_000);
    let frames = [
        format!(r#"{{"stream":"btcusdt@ticker","data":{deep}}}"#),
        deep.clone(),
        r#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":18446744073709551615,"b":[],"a":[]}}"#.to_owned(),
        r#"{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1,"data":{"s":"BTCUSDT","b":[["1e400","1"]],"a":[],"u":18446744073709551615}}"#.to_owned(),
        r#"{"topic":"publicTrade.BTCUSDT","data":[{"T":1,"s":"BTCUSDT","S":"Buy","v":"79228162514264337593543950336","p":"1","i":"x"}]}"#.to_owned(),
    ];
    for frame in &frames {
        market_frame(frame).unwrap_or_else(|e| panic!("{e}"));
        user_frame(frame);
    }
}
