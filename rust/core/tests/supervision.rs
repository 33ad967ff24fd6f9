//! Every task of a connector is supervised (DESIGN.md decision 14): a panic injected into each
//! kind of child (`supervise::fault`, built with the `fault-injection` feature) is caught, the
//! child restarted and told in `events()`, and the connector goes on — books sync again, the
//! clock is sampled, events flow. A one-shot task's panic is an event and its work is asked
//! again; a child that keeps failing past its restart intensity takes the connector down.

#![cfg(feature = "fault-injection")]

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tradewire_core::Error;
use tradewire_core::aggregate::{Aggregator, AggregatorConfig};
use tradewire_core::connector::{Connector, ConnectorConfig, ConnectorEvent};
use tradewire_core::model::{Market, Venue};
use tradewire_core::resilience::Backoff;
use tradewire_core::stream::Drained;
use tradewire_core::supervise::{HealthEvent, RestartPolicy, fault};
use tradewire_core::venue::Credentials;
use tradewire_sim::{SimConfig, Simulator, Timing};

/// The panics armed are process-wide: one test at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn sim() -> Simulator {
    Simulator::start(SimConfig {
        steps_per_second: 20,
        timing: Timing::scaled(10),
        ..SimConfig::default()
    })
    .await
    .expect("simulator")
}

async fn connector(sim: &Simulator, venue: Venue) -> Arc<Connector> {
    let (market, endpoints) = match venue {
        Venue::Binance => (Market::Spot, sim.binance_endpoints(true)),
        Venue::Bybit => (Market::Linear, sim.bybit_endpoints(false)),
    };
    let mut config =
        ConnectorConfig::new(venue, market, &endpoints.rest, &endpoints.ws_public).unwrap();
    config.ws_market = endpoints.ws_market;
    config.clock_interval = Duration::from_millis(200);
    config.symbols_interval = Duration::from_millis(300);
    config.restarts = RestartPolicy {
        backoff: Backoff::new(Duration::from_millis(10), Duration::from_millis(100)),
        ..RestartPolicy::default()
    };
    Connector::start(config, None, CancellationToken::new())
        .await
        .expect("connector")
}

/// The next task event about a child whose name contains `part`.
async fn told(events: &mut broadcast::Receiver<ConnectorEvent>, part: &str) -> HealthEvent {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Ok(ConnectorEvent::Task(event)) = events.recv().await {
                let child = match &event {
                    HealthEvent::Restarting { child, .. } | HealthEvent::GaveUp { child, .. } => {
                        child
                    }
                    HealthEvent::TaskPanicked { task, .. } => task,
                    _ => continue,
                };
                if child.contains(part) {
                    return event;
                }
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("nothing told of '{part}'"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_child_is_restarted_and_the_connector_goes_on() {
    let _serial = SERIAL.lock().await;
    let sim = sim().await;
    for venue in [Venue::Binance, Venue::Bybit] {
        let c = connector(&sim, venue).await;
        let book = c
            .book("BTCUSDT", 10, Duration::from_secs(15))
            .await
            .expect("book");
        // The market dispatch, its socket, the clock, the symbol rules, the event forwarders.
        for part in [
            "dispatch",
            "/socket ",
            "/clock",
            "/symbols",
            "events/sockets",
        ] {
            let mut events = c.events();
            fault::arm(part);
            if part == "events/sockets" {
                // The socket forwarder wakes on a socket event: a socket restart makes some.
                fault::arm("/socket ");
            }
            let event = told(&mut events, part).await;
            assert!(
                matches!(&event, HealthEvent::Restarting { reason, .. }
                    if reason.contains("injected panic")),
                "{venue} {part}: {event:?}"
            );
            // The connector goes on: the book is (again) the venue's.
            tokio::time::timeout(Duration::from_secs(15), book.book.wait_synced())
                .await
                .unwrap_or_else(|_| panic!("{venue}: the book is back after '{part}'"));
        }
        assert!(!c.closed().is_cancelled());
        drop(book);
        c.close();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_shot_task_that_panics_is_told_and_its_work_asked_again() {
    let _serial = SERIAL.lock().await;
    let sim = sim().await;
    let c = connector(&sim, Venue::Binance).await;
    let mut events = c.events();
    // The first snapshot fetch panics: the book gets its ticket back and asks again.
    fault::arm("snapshot ethusdt");
    let book = c
        .book("ETHUSDT", 10, Duration::from_secs(15))
        .await
        .expect("the book syncs from the next snapshot");
    let event = told(&mut events, "snapshot ethusdt").await;
    assert!(
        matches!(event, HealthEvent::TaskPanicked { .. }),
        "{event:?}"
    );
    assert!(book.book.is_synced());
    c.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_past_its_restart_intensity_takes_the_connector_down() {
    let _serial = SERIAL.lock().await;
    let sim = sim().await;
    let c = connector(&sim, Venue::Bybit).await;
    let mut events = c.events();
    let trades = c.trades(&["BTCUSDT".to_owned()], 1024).expect("trades");
    // Eleven panics in a row: past 10 restarts within 60 s the supervisor gives up.
    for _ in 0..11 {
        fault::arm("clock");
    }
    let gave_up = loop {
        if let HealthEvent::GaveUp { child, .. } = told(&mut events, "clock").await {
            break child;
        }
    };
    assert!(gave_up.ends_with("/clock"), "{gave_up}");
    tokio::time::timeout(Duration::from_secs(5), c.closed().cancelled())
        .await
        .expect("the connector failed: closed for every reader");
    // A reader is told why its stream ended, after what it had; so is every later call.
    let mut out = Vec::new();
    let end = loop {
        match trades.drain_into(1024, &mut out) {
            Drained::Open => tokio::time::sleep(Duration::from_millis(5)).await,
            Drained::Ended(end) => break end,
        }
    };
    match end {
        Some(Error::Failed(why)) => {
            assert!(why.contains("clock") && why.contains("gave up"), "{why}")
        }
        other => panic!("{other:?}"),
    }
    let later = c.refresh_symbols().await.expect_err("closed");
    assert!(matches!(later, Error::Failed(_)), "{later:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_stream_its_reconciliation_and_merged_books_are_supervised() {
    let _serial = SERIAL.lock().await;
    let sim = sim().await;
    let endpoints = sim.binance_endpoints(true);
    let mut config = ConnectorConfig::new(
        Venue::Binance,
        Market::Spot,
        &endpoints.rest,
        &endpoints.ws_public,
    )
    .unwrap();
    config.ws_api = endpoints.ws_api;
    config.reconcile_every = Duration::from_millis(300);
    config.restarts = RestartPolicy {
        backoff: Backoff::new(Duration::from_millis(10), Duration::from_millis(100)),
        ..RestartPolicy::default()
    };
    let keys = &sim.binance_credentials;
    let credentials = Credentials::new(&keys.api_key, &keys.api_secret).expect("keys");
    let c = Connector::start(config, Some(credentials), CancellationToken::new())
        .await
        .expect("connector");
    let mut events = c.events();
    let _updates = c.order_updates().expect("user stream");
    // The user stream's reader, then a periodic reconciliation (a one-shot task).
    fault::arm("/user stream");
    let event = told(&mut events, "/user stream").await;
    assert!(matches!(event, HealthEvent::Restarting { .. }), "{event:?}");
    fault::arm("/reconcile");
    let event = told(&mut events, "/reconcile").await;
    assert!(
        matches!(event, HealthEvent::TaskPanicked { .. }),
        "{event:?}"
    );
    // The reconciliation goes on after it: the account is still read.
    assert!(c.balances().await.is_ok());
    // A merged book's staleness ticker.
    let agg = Aggregator::new(
        vec![c.clone()],
        Default::default(),
        AggregatorConfig::default(),
    )
    .expect("aggregator");
    let merged = agg.book("BTC/USDT").await.expect("merged book");
    fault::arm("merged book");
    let event = told(&mut events, "merged book").await;
    assert!(matches!(event, HealthEvent::Restarting { .. }), "{event:?}");
    assert!(merged.bbo().bid.is_some());
    c.close();
}
