//! Starting and stopping a simulator: one loopback server per Binance market (as the venue has
//! separate hosts), each with its REST API and market streams. Bybit joins as its own server.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::{any, get};
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::binance::{self, BinanceState};
use crate::bybit::{self, BybitState, Category};
use crate::clock::VenueClock;
use crate::config::SimConfig;
use crate::exchange::{Exchange, Kind};
use crate::limits::{ConnectLimiter, limit_connects};
use crate::market::Market;

/// A venue account's keys.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub api_key: String,
    pub api_secret: String,
}

/// Where a client connects for one venue market (DESIGN.md decision 1).
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub rest: String,
    pub ws_public: String,
    pub ws_market: Option<String>,
    pub ws_private: Option<String>,
    pub ws_api: Option<String>,
}

#[derive(Debug)]
pub struct Simulator {
    pub config: SimConfig,
    pub binance_spot: Arc<BinanceState>,
    pub binance_usdm: Arc<BinanceState>,
    pub binance_clock: Arc<VenueClock>,
    binance_spot_addr: SocketAddr,
    binance_usdm_addr: SocketAddr,
    pub binance_credentials: Credentials,
    /// The same Binance account's Ed25519 key.
    pub binance_ed25519: Credentials,
    pub bybit: Arc<BybitState>,
    /// WebSocket connection-attempt limits per server: Binance spot, Binance USD-M, Bybit.
    pub connects: [Arc<ConnectLimiter>; 3],
    pub bybit_clock: Arc<VenueClock>,
    bybit_addr: SocketAddr,
    pub bybit_credentials: Credentials,
    cancel: CancellationToken,
}

/// A PKCS#8 v1 PEM of an Ed25519 seed, as `openssl genpkey -algorithm ed25519` writes it
/// (the form Binance's docs and SDKs load).
fn ed25519_pem(seed: &[u8; 32]) -> String {
    use base64::Engine;
    const PREFIX: [u8; 16] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    let der: Vec<u8> = PREFIX.iter().chain(seed.iter()).copied().collect();
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n")
}

fn random_key(rng: &mut fastrand::Rng) -> String {
    (0..64).map(|_| rng.alphanumeric()).collect()
}

pub(crate) async fn serve(
    router: Router,
    cancel: CancellationToken,
) -> std::io::Result<SocketAddr> {
    // Loopback only: the simulator is never reachable from another machine.
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    // Every frame goes out when written, as from the venues: without TCP_NODELAY a small frame
    // can wait for the client's delayed ACK (tens of ms), which benchmarks would count as latency.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(cancel.cancelled_owned())
            .await;
    });
    Ok(addr)
}

fn binance_router(state: Arc<BinanceState>, connects: Arc<ConnectLimiter>) -> Router {
    let mut router = Router::new()
        .route("/ws", get(binance::ws::bare))
        .route("/ws/{name}", get(binance::ws::raw))
        .route("/stream", get(binance::ws::combined))
        .route("/stream/{n}", get(binance::ws::combined));
    if state.spot() {
        router = router.route("/ws-api/v3", get(binance::user::ws_api));
    } else {
        router = router
            .route("/ws-fapi/v1", get(binance::user::ws_api))
            .route("/private/ws", get(binance::user::private_bare))
            .route("/private/ws/{key}", get(binance::user::private_raw))
            .route("/private/stream", get(binance::user::private_combined))
            .route("/{route}/ws/{name}", get(binance::ws::routed_raw))
            .route("/{route}/stream", get(binance::ws::routed_combined));
    }
    let market = state.market.clone();
    router
        .fallback(any(binance::rest::handle))
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            market,
            crate::wire::lose_write_answers,
        ))
        .layer(axum::middleware::from_fn_with_state(
            connects,
            limit_connects,
        ))
}

fn bybit_router(state: Arc<BybitState>, connects: Arc<ConnectLimiter>) -> Router {
    // One REST host serves both categories; its faults are kept with spot.
    let market = state.spot.clone();
    Router::new()
        .route("/v5/public/{category}", get(bybit::ws::public))
        .route("/v5/private", get(bybit::ws::private))
        .route("/v5/trade", get(bybit::trade::session))
        .fallback(any(bybit::rest::handle))
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            market,
            crate::wire::lose_write_answers,
        ))
        .layer(axum::middleware::from_fn_with_state(
            connects,
            limit_connects,
        ))
}

impl Simulator {
    /// Starts every venue on ephemeral loopback ports. Must run inside a Tokio runtime.
    pub async fn start(config: SimConfig) -> std::io::Result<Simulator> {
        let cancel = CancellationToken::new();
        let mut rng = fastrand::Rng::with_seed(config.seed ^ 0x5eed);
        let binance_credentials = Credentials {
            api_key: random_key(&mut rng),
            api_secret: random_key(&mut rng),
        };
        let bybit_credentials = Credentials {
            api_key: random_key(&mut rng)[..18].to_owned(),
            api_secret: random_key(&mut rng)[..36].to_owned(),
        };
        // A second Binance API key, Ed25519 (its secret is the PKCS#8 PEM private key).
        let ed25519_secret: [u8; 32] = std::array::from_fn(|_| rng.u8(..));
        let ed25519_signing = ed25519_dalek::SigningKey::from_bytes(&ed25519_secret);
        let ed25519_public = ed25519_signing.verifying_key().to_bytes();
        let binance_ed25519 = Credentials {
            api_key: random_key(&mut rng),
            api_secret: ed25519_pem(&ed25519_secret),
        };
        let binance_clock = Arc::new(VenueClock::default());
        let timing = &config.timing;
        let connects = [
            Arc::new(ConnectLimiter::new(
                timing.binance_connects_per_window,
                timing.connect_window,
            )),
            Arc::new(ConnectLimiter::new(
                timing.binance_connects_per_window,
                timing.connect_window,
            )),
            Arc::new(ConnectLimiter::new(
                timing.bybit_connects_per_window,
                timing.connect_window,
            )),
        ];

        let balances =
            |list: &[(String, rust_decimal::Decimal)]| -> Vec<(String, rust_decimal::Decimal)> {
                list.to_vec()
            };
        let make = |kind: Kind,
                    specs,
                    first_id,
                    start_balances: Vec<(String, rust_decimal::Decimal)>,
                    speeds| {
            let mut ex = Exchange::new(kind, specs, first_id);
            // Binance spot stop orders hold their funds from placement.
            ex.holds_untriggered = kind == Kind::Spot;
            let refs: Vec<(&str, rust_decimal::Decimal)> = start_balances
                .iter()
                .map(|(a, v)| (a.as_str(), *v))
                .collect();
            let account = ex.add_account(
                &binance_credentials.api_key,
                &binance_credentials.api_secret,
                &refs,
            );
            ex.accounts[account].ed25519 = Some((binance_ed25519.api_key.clone(), ed25519_public));
            Market::new(kind, ex, binance_clock.clone(), speeds)
        };
        let spot = make(
            Kind::Spot,
            &config.spot_symbols,
            1_000_000,
            balances(&config.spot_balances),
            vec![timing.depth_fast, timing.depth_spot_default],
        );
        let usdm = make(
            Kind::Perp,
            &config.perp_symbols,
            8_000_000_000,
            balances(&config.perp_balances),
            vec![
                timing.depth_fast,
                timing.depth_usdm_default,
                timing.depth_usdm_default * 2,
            ],
        );
        spot.start(
            config.seed,
            config.seed,
            config.steps_per_second,
            cancel.child_token(),
        );
        usdm.start(
            config.seed.wrapping_add(1),
            config.seed,
            config.steps_per_second,
            cancel.child_token(),
        );
        let binance_spot = BinanceState::new(spot, timing);
        let binance_usdm = BinanceState::new(usdm, timing);
        let binance_spot_addr = serve(
            binance_router(binance_spot.clone(), connects[0].clone()),
            cancel.child_token(),
        )
        .await?;
        let binance_usdm_addr = serve(
            binance_router(binance_usdm.clone(), connects[1].clone()),
            cancel.child_token(),
        )
        .await?;

        let bybit_clock = Arc::new(VenueClock::default());
        let bybit_market = |kind: Kind,
                            specs: &[crate::exchange::SymbolSpec],
                            start: &[(String, rust_decimal::Decimal)]| {
            let mut ex = Exchange::new(kind, specs, bybit::first_order_id(kind));
            ex.post_only_cancels = true;
            ex.reduce_only_trims = true;
            let refs: Vec<(&str, rust_decimal::Decimal)> =
                start.iter().map(|(a, v)| (a.as_str(), *v)).collect();
            ex.add_account(
                &bybit_credentials.api_key,
                &bybit_credentials.api_secret,
                &refs,
            );
            Market::new(kind, ex, bybit_clock.clone(), Vec::new())
        };
        let bybit_spot = bybit_market(Kind::Spot, &config.spot_symbols, &config.spot_balances);
        let bybit_linear = bybit_market(Kind::Perp, &config.perp_symbols, &config.perp_balances);
        bybit_spot.start(
            config.seed.wrapping_add(2),
            config.seed,
            config.steps_per_second,
            cancel.child_token(),
        );
        bybit_linear.start(
            config.seed.wrapping_add(3),
            config.seed,
            config.steps_per_second,
            cancel.child_token(),
        );
        let topics = Arc::new(bybit::book::Topics::default());
        topics.run(
            bybit_spot.clone(),
            Category::Spot,
            timing.bybit_depth_intervals,
            cancel.child_token(),
        );
        topics.run(
            bybit_linear.clone(),
            Category::Linear,
            timing.bybit_depth_intervals,
            cancel.child_token(),
        );
        let bybit = Arc::new(BybitState {
            spot: bybit_spot,
            linear: bybit_linear,
            books: topics,
            limits: crate::limits::BybitLimits::new(
                timing.bybit_ip_limit,
                timing.bybit_ip_window,
                timing.bybit_ip_ban,
                timing.bybit_uid_window,
            ),
            timing: timing.clone(),
        });
        let bybit_addr = serve(
            bybit_router(bybit.clone(), connects[2].clone()),
            cancel.child_token(),
        )
        .await?;
        Ok(Simulator {
            config,
            binance_spot,
            binance_usdm,
            binance_clock,
            binance_spot_addr,
            binance_usdm_addr,
            binance_credentials,
            binance_ed25519,
            bybit,
            bybit_clock,
            bybit_addr,
            bybit_credentials,
            connects,
            cancel,
        })
    }

    pub fn binance_endpoints(&self, spot: bool) -> Endpoints {
        if spot {
            let a = self.binance_spot_addr;
            Endpoints {
                rest: format!("http://{a}"),
                ws_public: format!("ws://{a}"),
                ws_market: None,
                ws_private: None,
                ws_api: Some(format!("ws://{a}/ws-api/v3")),
            }
        } else {
            let a = self.binance_usdm_addr;
            Endpoints {
                rest: format!("http://{a}"),
                ws_public: format!("ws://{a}/public"),
                ws_market: Some(format!("ws://{a}/market")),
                ws_private: Some(format!("ws://{a}/private")),
                ws_api: Some(format!("ws://{a}/ws-fapi/v1")),
            }
        }
    }

    pub fn bybit_endpoints(&self, spot: bool) -> Endpoints {
        let a = self.bybit_addr;
        Endpoints {
            rest: format!("http://{a}"),
            ws_public: format!(
                "ws://{a}/v5/public/{}",
                if spot { "spot" } else { "linear" }
            ),
            ws_market: None,
            ws_private: Some(format!("ws://{a}/v5/private")),
            ws_api: Some(format!("ws://{a}/v5/trade")),
        }
    }

    pub fn binance(&self, spot: bool) -> &Arc<BinanceState> {
        if spot {
            &self.binance_spot
        } else {
            &self.binance_usdm
        }
    }

    pub fn shutdown(&self) {
        self.cancel.cancel();
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
