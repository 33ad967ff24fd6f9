//! Simulator settings. Every venue timer and limit is here, so tests can scale time down
//! (DESIGN.md decision 4) while the venues' real values stay the defaults.

use std::time::Duration;

use rust_decimal::Decimal;

use crate::exchange::SymbolSpec;

/// Venue timers and limits. `Timing::default()` is what the real venues use.
#[derive(Debug, Clone)]
pub struct Timing {
    /// Binance REQUEST_WEIGHT window (1 minute on the venue).
    pub weight_window: Duration,
    pub spot_weight_limit: u32,
    pub usdm_weight_limit: u32,
    /// Binance ORDERS short window (10 s) and its limit per market.
    pub order_window: Duration,
    pub spot_orders_per_window: u32,
    pub usdm_orders_per_window: u32,
    /// First Binance IP ban (418) length; repeated bans double it, up to 3 days.
    pub ban_base: Duration,
    /// 429 answers tolerated within one window before a client is banned.
    pub violations_before_ban: u32,
    /// Bybit IP limit: `bybit_ip_limit` requests per `bybit_ip_window` (600 per 5 s).
    pub bybit_ip_window: Duration,
    pub bybit_ip_limit: u32,
    /// Bybit IP ban after breaching the IP limit (403), at least 10 minutes on the venue.
    pub bybit_ip_ban: Duration,
    /// Bybit per-UID, per-endpoint window (1 s).
    pub bybit_uid_window: Duration,
    /// Binance spot pings every 20 s and drops a connection without pong within 1 min.
    pub spot_ping_interval: Duration,
    pub spot_pong_timeout: Duration,
    /// Binance USD-M pings every 3 min and drops after 10 min without pong.
    pub usdm_ping_interval: Duration,
    pub usdm_pong_timeout: Duration,
    /// Bybit cuts a connection without ping or data after 10 minutes.
    pub bybit_idle_timeout: Duration,
    /// Binance's 24 h connection lifetime (and Bybit's, which we apply too for rotation tests).
    pub max_connection_lifetime: Duration,
    /// USD-M listenKey validity after the last keepalive (60 min).
    pub listen_key_validity: Duration,
    /// Binance diff-depth speeds: fast (100 ms), spot default (1000 ms), USD-M default (250 ms).
    pub depth_fast: Duration,
    pub depth_spot_default: Duration,
    pub depth_usdm_default: Duration,
    /// Bybit orderbook push intervals for depth 1 / 50 / 200 / 1000.
    pub bybit_depth_intervals: [Duration; 4],
    /// Tickers (Binance 1000 ms, Bybit linear 100 ms).
    pub ticker_interval: Duration,
    /// How often an open candle is pushed: Binance spot's 2 s (its 1 s candles every second,
    /// USD-M every 250 ms, an eighth); Bybit's "1-60 s" every 2 s here too.
    pub kline_interval: Duration,
    /// WebSocket connection attempts per IP per window: Binance 300, Bybit 500, per 5 minutes.
    pub connect_window: Duration,
    pub binance_connects_per_window: u32,
    pub bybit_connects_per_window: u32,
    /// How long Bybit takes to acknowledge a subscription (a network round trip; not scaled).
    pub control_reply_delay: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            weight_window: Duration::from_secs(60),
            spot_weight_limit: 6000,
            usdm_weight_limit: 2400,
            order_window: Duration::from_secs(10),
            spot_orders_per_window: 100,
            usdm_orders_per_window: 300,
            ban_base: Duration::from_secs(120),
            violations_before_ban: 3,
            bybit_ip_window: Duration::from_secs(5),
            bybit_ip_limit: 600,
            bybit_ip_ban: Duration::from_secs(600),
            bybit_uid_window: Duration::from_secs(1),
            spot_ping_interval: Duration::from_secs(20),
            spot_pong_timeout: Duration::from_secs(60),
            usdm_ping_interval: Duration::from_secs(180),
            usdm_pong_timeout: Duration::from_secs(600),
            bybit_idle_timeout: Duration::from_secs(600),
            max_connection_lifetime: Duration::from_secs(24 * 3600),
            listen_key_validity: Duration::from_secs(3600),
            depth_fast: Duration::from_millis(100),
            depth_spot_default: Duration::from_millis(1000),
            depth_usdm_default: Duration::from_millis(250),
            bybit_depth_intervals: [
                Duration::from_millis(10),
                Duration::from_millis(20),
                Duration::from_millis(100),
                Duration::from_millis(200),
            ],
            ticker_interval: Duration::from_millis(1000),
            kline_interval: Duration::from_millis(2000),
            connect_window: Duration::from_secs(300),
            binance_connects_per_window: 300,
            bybit_connects_per_window: 500,
            control_reply_delay: Duration::from_millis(20),
        }
    }
}

impl Timing {
    /// Every duration divided by `factor` (limits unchanged): `scaled(60)` makes a minute a second.
    pub fn scaled(factor: u32) -> Timing {
        let d = Timing::default();
        let s = |x: Duration| (x / factor.max(1)).max(Duration::from_millis(1));
        Timing {
            weight_window: s(d.weight_window),
            order_window: s(d.order_window),
            ban_base: s(d.ban_base),
            bybit_ip_window: s(d.bybit_ip_window),
            bybit_ip_ban: s(d.bybit_ip_ban),
            bybit_uid_window: s(d.bybit_uid_window),
            spot_ping_interval: s(d.spot_ping_interval),
            spot_pong_timeout: s(d.spot_pong_timeout),
            usdm_ping_interval: s(d.usdm_ping_interval),
            usdm_pong_timeout: s(d.usdm_pong_timeout),
            bybit_idle_timeout: s(d.bybit_idle_timeout),
            max_connection_lifetime: s(d.max_connection_lifetime),
            listen_key_validity: s(d.listen_key_validity),
            depth_fast: s(d.depth_fast),
            depth_spot_default: s(d.depth_spot_default),
            depth_usdm_default: s(d.depth_usdm_default),
            bybit_depth_intervals: d.bybit_depth_intervals.map(s),
            ticker_interval: s(d.ticker_interval),
            kline_interval: s(d.kline_interval),
            connect_window: s(d.connect_window),
            ..d
        }
    }
}

/// Everything a simulator run needs.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Seeds the synthetic market: the same seed gives the same market.
    pub seed: u64,
    /// Synthetic market steps per second per symbol (each step changes the book, sometimes trades).
    pub steps_per_second: u32,
    /// Spot symbols (both venues) and linear-perpetual symbols (Binance USD-M, Bybit linear).
    pub spot_symbols: Vec<SymbolSpec>,
    pub perp_symbols: Vec<SymbolSpec>,
    pub timing: Timing,
    /// Starting balances of each simulated account, per market kind.
    pub spot_balances: Vec<(String, Decimal)>,
    pub perp_balances: Vec<(String, Decimal)>,
}

fn spec(
    name: &str,
    base: &str,
    tick: &str,
    step: &str,
    min_notional: &str,
    price: &str,
) -> SymbolSpec {
    let d = |s: &str| s.parse::<Decimal>().expect("literal decimal");
    SymbolSpec {
        name: name.to_owned(),
        base: base.to_owned(),
        quote: "USDT".to_owned(),
        tick: d(tick),
        step: d(step),
        min_qty: d(step),
        max_qty: d("9000"),
        min_notional: d(min_notional),
        start_price: d(price),
        legacy_levels: 0,
        price_unit: Decimal::ZERO,
        qty_unit: Decimal::ZERO,
    }
    .listed()
}

impl Default for SimConfig {
    fn default() -> Self {
        let spot = vec![
            spec("BTCUSDT", "BTC", "0.01", "0.00001", "5", "60000"),
            spec("ETHUSDT", "ETH", "0.01", "0.0001", "5", "3000"),
            spec("SOLUSDT", "SOL", "0.01", "0.001", "5", "150"),
        ];
        let perp = vec![
            spec("BTCUSDT", "BTC", "0.1", "0.001", "5", "60000"),
            spec("ETHUSDT", "ETH", "0.01", "0.001", "5", "3000"),
            spec("SOLUSDT", "SOL", "0.001", "0.1", "5", "150"),
        ];
        let d = |s: &str| s.parse::<Decimal>().expect("literal decimal");
        SimConfig {
            seed: 7,
            steps_per_second: 50,
            spot_symbols: spot,
            perp_symbols: perp,
            timing: Timing::default(),
            spot_balances: vec![
                ("USDT".into(), d("100000")),
                ("BTC".into(), d("2")),
                ("ETH".into(), d("20")),
                ("SOL".into(), d("500")),
            ],
            perp_balances: vec![("USDT".into(), d("100000"))],
        }
    }
}

impl SimConfig {
    /// `n` legacy off-grid levels a side on every symbol (see `SymbolSpec::legacy_levels`).
    pub fn with_legacy_levels(mut self, n: usize) -> SimConfig {
        for spec in self.spot_symbols.iter_mut().chain(&mut self.perp_symbols) {
            spec.legacy_levels = n;
            *spec = spec.clone().listed();
        }
        self
    }

    /// `n` synthetic spot and perp symbols `S0USDT`.. (for tests with many books).
    pub fn with_many_symbols(mut self, n: usize) -> SimConfig {
        for i in 0..n {
            let name = format!("S{i}USDT");
            self.spot_symbols
                .push(spec(&name, &format!("S{i}"), "0.01", "0.01", "1", "100"));
            self.perp_symbols
                .push(spec(&name, &format!("S{i}"), "0.01", "0.01", "1", "100"));
        }
        self
    }
}
