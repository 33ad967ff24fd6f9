//! Signed REST over real loopback sockets against the simulator: signing accepted by both
//! venues, the clock kept within 500 ms of a skewed venue (RESL-04), a rejected timestamp
//! resynced and the read retried, 429s waited out, bans failing fast with their end (CONN-06,
//! RESL-06), the breaker opening on 5xx and closing on a successful probe (RESL-01..03).

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tradewire_core::Error;
use tradewire_core::connector::{ConnectorConfig, rest_client};
use tradewire_core::model::{Market, Venue};
use tradewire_core::net::{Http, Request};
use tradewire_core::resilience::{BreakerConfig, BreakerState};
use tradewire_core::venue::Credentials;
use tradewire_sim::{SimConfig, Simulator, Timing};

async fn sim() -> Simulator {
    Simulator::start(SimConfig {
        steps_per_second: 0,
        timing: Timing::scaled(60),
        ..SimConfig::default()
    })
    .await
    .expect("simulator")
}

fn http(base: &str, venue: Venue, keys: Option<(&str, &str)>, breaker: BreakerConfig) -> Http {
    let market = if venue == Venue::Binance {
        Market::Spot
    } else {
        Market::Linear
    };
    let mut config = ConnectorConfig::new(venue, market, base, "ws://127.0.0.1:9").unwrap();
    config.breaker = breaker;
    config.http.timeout = Duration::from_secs(2);
    let credentials = keys.map(|(k, s)| Arc::new(Credentials::new(k, s).expect("keys")));
    rest_client(&config, credentials).expect("http")
}

fn binance(sim: &Simulator, breaker: BreakerConfig) -> Http {
    let keys = &sim.binance_credentials;
    let base = sim.binance_endpoints(true).rest;
    http(
        &base,
        Venue::Binance,
        Some((&keys.api_key, &keys.api_secret)),
        breaker,
    )
}

fn bybit(sim: &Simulator) -> Http {
    let keys = &sim.bybit_credentials;
    let base = sim.bybit_endpoints(false).rest;
    http(
        &base,
        Venue::Bybit,
        Some((&keys.api_key, &keys.api_secret)),
        BreakerConfig::default(),
    )
}

fn account() -> Request {
    Request::get("/api/v3/account").signed()
}

fn wallet() -> Request {
    Request::get("/v5/account/wallet-balance")
        .param("accountType", "UNIFIED")
        .signed()
}

#[tokio::test]
async fn both_venues_accept_our_signatures_and_report_usage() {
    let sim = sim().await;
    let bn = binance(&sim, BreakerConfig::default());
    let balances = bn.send(&account()).await.expect("binance account");
    assert!(
        balances["balances"]
            .as_array()
            .is_some_and(|b| !b.is_empty())
    );
    let weight = bn
        .limiter
        .usage()
        .into_iter()
        .find(|u| u.name == "REQUEST_WEIGHT 1M")
        .unwrap();
    assert!(
        weight.used >= 20,
        "our count, corrected by X-MBX-USED-WEIGHT-1M: {weight:?}"
    );

    let by = bybit(&sim);
    let wallet = by.send(&wallet()).await.expect("bybit wallet");
    assert_eq!(
        wallet["result"]["list"][0]["accountType"],
        Value::from("UNIFIED")
    );
    let usage = by.limiter.usage();
    assert!(
        usage
            .iter()
            .any(|u| u.name.contains("/v5/account/wallet-balance") && u.limit == 50)
    );

    // Ed25519 keys sign Binance requests too.
    let ed = &sim.binance_ed25519;
    let ed_http = http(
        &sim.binance_endpoints(true).rest,
        Venue::Binance,
        Some((&ed.api_key, &ed.api_secret)),
        BreakerConfig::default(),
    );
    ed_http
        .send(&account())
        .await
        .expect("ed25519-signed account");

    let unsigned = http(
        &sim.binance_endpoints(true).rest,
        Venue::Binance,
        None,
        BreakerConfig::default(),
    );
    let refused = unsigned.send(&account()).await.unwrap_err();
    assert!(
        matches!(refused, Error::InvalidArgument { ref field, .. } if field == "api_key"),
        "{refused}"
    );
    let wrong = http(
        &sim.binance_endpoints(true).rest,
        Venue::Binance,
        Some((&sim.binance_credentials.api_key, "not-the-secret")),
        BreakerConfig::default(),
    );
    assert!(matches!(wrong.send(&account()).await, Err(Error::Auth(_))));
    sim.shutdown();
}

#[tokio::test]
async fn the_clock_follows_a_skewed_venue_and_a_rejected_timestamp_resyncs() {
    let sim = sim().await;
    let bn = binance(&sim, BreakerConfig::default());
    sim.binance_clock.set_skew_ms(3_000);
    for _ in 0..3 {
        bn.sync_clock().await.expect("sync");
    }
    let offset = bn.clock.offset_ms().expect("offset");
    assert!(
        (offset - 3_000).abs() < 500,
        "offset {offset} ms for a 3 s skew"
    );
    bn.send(&account())
        .await
        .expect("signed with the venue's time");

    // The venue jumps 8 s ahead: the next signed read is refused (-1021), the clock resyncs,
    // and the read goes through on the second attempt.
    sim.binance_clock.set_skew_ms(11_000);
    bn.send(&account()).await.expect("resynced and retried");
    let offset = bn.clock.offset_ms().expect("offset");
    assert!(
        (offset - 11_000).abs() < 500,
        "offset {offset} ms after the jump"
    );

    let by = bybit(&sim);
    sim.bybit_clock.set_skew_ms(-4_000);
    by.send(&wallet())
        .await
        .expect("bybit resynced after 10002 and retried");
    assert!((by.clock.offset_ms().unwrap() + 4_000).abs() < 500);
    sim.shutdown();
}

#[tokio::test]
async fn a_429_is_waited_out_and_a_ban_fails_fast_until_it_ends() {
    let sim = sim().await;
    let bn = binance(&sim, BreakerConfig::default());
    bn.sync_clock().await.unwrap();
    sim.binance_spot.limits.force_429(1);
    bn.send(&Request::get("/api/v3/time"))
        .await
        .expect("retried after Retry-After");

    sim.binance_spot.limits.force_ban(Duration::from_secs(30));
    let first = bn.send(&Request::get("/api/v3/time")).await.unwrap_err();
    let Error::Banned { until_ms, .. } = first else {
        panic!("expected Banned, got {first}")
    };
    assert!(
        until_ms > bn.clock.now_server_ms() + 20_000,
        "the ban's end comes from the venue"
    );
    let (_, bans_before, while_banned_before) = sim.binance_spot.limits.violations.snapshot();
    // Further requests fail without reaching the venue.
    for _ in 0..5 {
        assert!(matches!(
            bn.send(&account()).await,
            Err(Error::Banned { .. })
        ));
    }
    let (_, bans, while_banned) = sim.binance_spot.limits.violations.snapshot();
    assert_eq!((bans, while_banned), (bans_before, while_banned_before));

    let by = bybit(&sim);
    sim.bybit.limits.force_10006(1);
    by.send(&wallet()).await.expect("10006 waited out");
    sim.shutdown();
}

#[tokio::test]
async fn the_breaker_opens_on_venue_failures_and_a_probe_closes_it() {
    let sim = sim().await;
    let config = BreakerConfig {
        failure_threshold: 3,
        cool_down: Duration::from_millis(300),
    };
    let bn = binance(&sim, config);
    sim.binance_spot
        .market
        .faults
        .rest_5xx
        .store(100, std::sync::atomic::Ordering::Release);
    let failed = bn.send(&Request::get("/api/v3/time")).await.unwrap_err();
    assert!(
        matches!(failed, Error::Exchange(ref r) if r.http_status == Some(503)),
        "{failed}"
    );
    let open = bn.send(&Request::get("/api/v3/time")).await.unwrap_err();
    assert!(
        matches!(
            open,
            Error::CircuitOpen {
                venue: Venue::Binance,
                ..
            }
        ),
        "{open}"
    );
    assert_eq!(bn.breaker.snapshot().state, BreakerState::Open);

    sim.binance_spot
        .market
        .faults
        .rest_5xx
        .store(0, std::sync::atomic::Ordering::Release);
    // Past the cool-down: the breaker lets a probe through.
    tokio::time::timeout(Duration::from_secs(5), async {
        while bn.breaker.snapshot().retry_in.is_some() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the cool-down ends");
    bn.send(&Request::get("/api/v3/time"))
        .await
        .expect("the probe succeeds");
    assert_eq!(bn.breaker.snapshot().state, BreakerState::Closed);
    sim.shutdown();
}

#[allow(clippy::disallowed_methods)] // a test's own tasks
#[tokio::test]
async fn a_burst_beyond_the_budget_is_paced_with_zero_violations() {
    // The venue allows 100 weight per 2 s (announced in exchangeInfo); 40 concurrent depth
    // reads of weight 5 need 200: the limiter spreads them over windows instead of the venue
    // answering 429.
    let timing = Timing {
        weight_window: Duration::from_secs(2),
        spot_weight_limit: 100,
        ..Timing::default()
    };
    let sim = Simulator::start(SimConfig {
        steps_per_second: 0,
        timing,
        ..SimConfig::default()
    })
    .await
    .expect("simulator");
    let endpoints = sim.binance_endpoints(true);
    let config = tradewire_core::connector::ConnectorConfig::new(
        Venue::Binance,
        Market::Spot,
        &endpoints.rest,
        &endpoints.ws_public,
    )
    .unwrap();
    let connector = tradewire_core::connector::Connector::start(
        config,
        None,
        tokio_util::sync::CancellationToken::new(),
    )
    .await
    .expect("connector");
    let names: Vec<String> = connector
        .health()
        .limits
        .iter()
        .map(|l| l.name.clone())
        .collect();
    assert!(names.contains(&"REQUEST_WEIGHT 2S".to_owned()), "{names:?}");
    let mut events = connector.events();
    let started = tokio::time::Instant::now();
    let reads = (0..40).map(|_| {
        let connector = connector.clone();
        tokio::spawn(async move {
            let depth = Request::get("/api/v3/depth")
                .param("symbol", "BTCUSDT")
                .param("limit", 100);
            connector.request(&depth).await
        })
    });
    for read in futures_util::future::join_all(reads).await {
        read.unwrap().expect("every read succeeds");
    }
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the budget forced a wait"
    );
    assert_eq!(sim.binance_spot.limits.violations.snapshot(), (0, 0, 0));
    let waited = std::iter::from_fn(|| events.try_recv().ok())
        .any(|e| matches!(e, tradewire_core::connector::ConnectorEvent::Limit(_)));
    assert!(waited, "the wait was reported");
    sim.shutdown();
}
