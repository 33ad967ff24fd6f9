//! REST against a hostile or broken venue, over real loopback sockets: a tiny hand-made HTTP
//! server answers canned responses (absurd rate-limit headers, a Retry-After of days, a
//! redirect, a dropped connection, huge bodies). Nothing it says may abort the process, hold
//! requests for days, leak the signed query into an error, or be read without bound.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tradewire_core::Error;
use tradewire_core::connector::{ConnectorConfig, rest_client};
use tradewire_core::model::{Market, Venue};
use tradewire_core::net::{Http, Method, Request};
use tradewire_core::resilience::{MAX_RETRY_AFTER, Priority};
use tradewire_core::venue::Credentials;

/// What the server writes for one request, given its request line (`GET /path?query HTTP/1.1`).
type Answer = Arc<dyn Fn(&str) -> Vec<u8> + Send + Sync>;

struct Server {
    base: String,
    /// Request lines received, in order.
    seen: Arc<Mutex<Vec<String>>>,
}

/// Serves `answer` on an ephemeral loopback port, one request per connection.
async fn serve(answer: Answer) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    #[allow(clippy::disallowed_methods)] // the test's own server
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let (answer, log) = (answer.clone(), log.clone());
            #[allow(clippy::disallowed_methods)]
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&head);
                let line = text.lines().next().unwrap_or_default().to_owned();
                log.lock().unwrap().push(line.clone());
                let _ = socket.write_all(&answer(&line)).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    Server { base, seen }
}

fn response(status: &str, headers: &[(&str, String)], body: &str) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    out.into_bytes()
}

fn client(base: &str, venue: Venue) -> Http {
    let market = if venue == Venue::Binance {
        Market::Spot
    } else {
        Market::Linear
    };
    let mut config = ConnectorConfig::new(venue, market, base, "ws://127.0.0.1:9").unwrap();
    config.http.timeout = Duration::from_secs(2);
    let keys = Arc::new(Credentials::new("key", "secret").unwrap());
    rest_client(&config, Some(keys)).expect("http")
}

fn binance_account() -> Request {
    Request::get("/api/v3/account").signed()
}

fn bybit_wallet() -> Request {
    Request::get("/v5/account/wallet-balance")
        .param("accountType", "UNIFIED")
        .signed()
}

/// Fails the test instead of hanging when a request is held.
async fn within<T>(secs: u64, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .expect("held: the request did not finish in time")
}

#[tokio::test]
async fn absurd_bybit_limit_headers_neither_abort_nor_throttle() {
    let values = [
        "1000000000000".to_owned(),
        i64::MAX.to_string(),
        "100000000".to_owned(),
    ];
    let calls = Arc::new(AtomicUsize::new(0));
    let count = calls.clone();
    let server = serve(Arc::new(move |_| {
        let k = count.fetch_add(1, Ordering::SeqCst) % 3;
        let limit = ["1000000000000", "9223372036854775807", "100000000"][k];
        response(
            "200 OK",
            &[
                ("X-Bapi-Limit", limit.to_owned()),
                ("X-Bapi-Limit-Status", "0".to_owned()),
            ],
            r#"{"retCode":0,"retMsg":"OK","result":{}}"#,
        )
    }))
    .await;
    let http = client(&server.base, Venue::Bybit);
    let start = Instant::now();
    for _ in 0..2 * values.len() {
        within(5, http.send(&bybit_wallet())).await.expect("answer");
    }
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    for usage in http.limiter.usage() {
        assert!(usage.limit <= 600 && usage.used <= 600, "{usage:?}");
    }
}

#[tokio::test]
async fn an_absurd_binance_used_weight_does_not_hold_the_next_request() {
    let server = serve(Arc::new(|_| {
        response(
            "200 OK",
            &[("X-MBX-USED-WEIGHT-1M", "1000000000000".to_owned())],
            r#"{"balances":[]}"#,
        )
    }))
    .await;
    let http = client(&server.base, Venue::Binance);
    let start = Instant::now();
    for _ in 0..3 {
        within(5, http.send(&binance_account()))
            .await
            .expect("answer");
    }
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn a_retry_after_of_days_fails_requests_at_once_instead_of_holding_them() {
    let server = serve(Arc::new(|_| {
        response(
            "429 Too Many Requests",
            &[("Retry-After", "999999".to_owned())],
            r#"{"code":-1003,"msg":"Too much request weight used"}"#,
        )
    }))
    .await;
    let http = client(&server.base, Venue::Binance);
    let first = within(5, http.send(&binance_account())).await.unwrap_err();
    let Error::RateLimited {
        retry_after: Some(wait),
        ..
    } = first
    else {
        panic!("expected RateLimited, got {first:?}")
    };
    assert!(wait <= MAX_RETRY_AFTER, "{wait:?}");
    let reached = server.seen.lock().unwrap().len();
    // An order now is refused at once with the time left, without reaching the venue.
    let mut order = Request::get("/api/v3/order")
        .param("symbol", "BTCUSDT")
        .signed();
    order.method = Method::Post;
    order.priority = Priority::Order;
    let start = Instant::now();
    let refused = within(5, http.send(&order)).await.unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(1));
    match refused {
        Error::RateLimited {
            retry_after: Some(left),
            ..
        } => assert!(left > Duration::from_secs(200) && left <= MAX_RETRY_AFTER),
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert_eq!(server.seen.lock().unwrap().len(), reached);
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let elsewhere = serve(Arc::new(|_| response("200 OK", &[], r#"{"balances":[]}"#))).await;
    let target = format!("{}/stolen", elsewhere.base);
    let server = serve(Arc::new(move |_| {
        response("302 Found", &[("Location", target.clone())], "")
    }))
    .await;
    let http = client(&server.base, Venue::Binance);
    let err = within(5, http.send(&binance_account())).await.unwrap_err();
    match &err {
        Error::Exchange(reply) => assert_eq!(reply.http_status, Some(302)),
        other => panic!("expected Exchange, got {other:?}"),
    }
    assert!(err.to_string().contains("302"), "{err}");
    assert!(elsewhere.seen.lock().unwrap().is_empty(), "followed");
}

#[tokio::test]
async fn errors_carry_neither_the_signed_query_nor_a_whole_body() {
    // The connection drops before any answer.
    let dropped = serve(Arc::new(|_| Vec::new())).await;
    let http = client(&dropped.base, Venue::Binance);
    let err = within(10, http.send(&binance_account())).await.unwrap_err();
    assert!(matches!(err, Error::ConnectionLost(_)), "{err:?}");
    let text = format!("{err} {err:?}");
    assert!(
        !text.contains("signature") && !text.contains("timestamp="),
        "{text}"
    );
    assert!(dropped.seen.lock().unwrap()[0].contains("signature="));
    // The cause is named, not only "error sending request".
    assert!(text.contains("connection closed"), "{text}");

    // A long answer is quoted as a short prefix.
    let long = serve(Arc::new(|_| {
        response("400 Bad Request", &[], &"<html>".repeat(20_000))
    }))
    .await;
    let http = client(&long.base, Venue::Bybit);
    let err = within(5, http.send(&bybit_wallet())).await.unwrap_err();
    assert!(err.to_string().chars().count() < 400, "{err}");
    assert!(err.to_string().contains('…'), "{err}");
}

#[tokio::test]
async fn an_oversized_answer_is_refused_not_read() {
    // Announced too long.
    let announced = serve(Arc::new(|_| {
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1000000000\r\n\r\n{".to_vec()
    }))
    .await;
    let http = client(&announced.base, Venue::Binance);
    let err = within(5, http.send(&binance_account())).await.unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
    // Not announced: read until the limit, then refused.
    let streamed = serve(Arc::new(|_| {
        let mut out = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec();
        out.extend(std::iter::repeat_n(b' ', 17 * 1024 * 1024));
        out
    }))
    .await;
    let http = client(&streamed.base, Venue::Binance);
    let err = within(10, http.send(&binance_account())).await.unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
}
