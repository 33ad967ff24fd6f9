//! The order-entry session (`net::WsSession`) against a scripted WebSocket server on loopback:
//! answers find their callers whatever their order, a call while the session is down is not
//! sent, a dropped connection loses the calls in flight (never resent) and the session comes
//! back, and a call no answer comes to times out.

// The test's own server and callers are tasks of the test, not of a connector.
#![allow(clippy::disallowed_methods)]

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;
use tradewire_core::model::Venue;
use tradewire_core::net::{SessionDialect, Unanswered, WsConfig, WsSession};
use tradewire_core::resilience::{LimitSpec, Limiter, WindowKind};
use tradewire_core::supervise::{RestartPolicy, Supervisor};

struct Plain;

impl SessionDialect for Plain {
    fn venue(&self) -> Venue {
        Venue::Binance
    }
    fn login(&self, _id: &str) -> Option<String> {
        None
    }
    fn logged_in(&self, _answer: &str) -> Option<Result<(), String>> {
        None
    }
    fn answer_id<'a>(&self, text: &'a str) -> Option<Cow<'a, str>> {
        let v: Value = serde_json::from_str(text).ok()?;
        Some(Cow::Owned(v.get("id")?.as_str()?.to_owned()))
    }
    fn heartbeat(&self, _id: &str) -> Option<String> {
        None
    }
}

/// A server that, per connection, answers each request `{"id", "do"}`: `"answer"` at once,
/// `"hold"` with the next `"release"` (in reverse order), `"drop"` by closing without a word,
/// `"silent"` never.
async fn server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                let mut held: Vec<Value> = Vec::new();
                while let Some(Ok(message)) = ws.next().await {
                    let Message::Text(text) = message else {
                        continue;
                    };
                    let request: Value = serde_json::from_str(text.as_str()).unwrap();
                    let id = request["id"].clone();
                    match request["do"].as_str().unwrap() {
                        "answer" => {
                            let _ = ws
                                .send(Message::text(json!({"id": id, "ok": true}).to_string()))
                                .await;
                        }
                        "hold" => held.push(id),
                        "release" => {
                            for id in held.drain(..).rev().chain([id]) {
                                let _ = ws
                                    .send(Message::text(json!({"id": id, "ok": true}).to_string()))
                                    .await;
                            }
                        }
                        "drop" => return,
                        _ => {}
                    }
                }
            });
        }
    });
    url
}

fn session(url: &str, cancel: &CancellationToken) -> WsSession {
    let limiter = Arc::new(Limiter::new(Venue::Binance, Arc::new(|| 0), 0.0));
    let id = limiter.set_limit(LimitSpec {
        name: "connects".into(),
        kind: WindowKind::Rolling,
        length: Duration::from_secs(1),
        limit: 1000,
    });
    let supervisor = Supervisor::new("test", RestartPolicy::default(), cancel.clone());
    let config = WsConfig {
        backoff_base: Duration::from_millis(10),
        backoff_cap: Duration::from_millis(50),
        connect_timeout: Duration::from_secs(2),
        ..WsConfig::default()
    };
    WsSession::start(
        url,
        "url",
        Arc::new(Plain),
        config,
        (limiter, id),
        None,
        cancel.clone(),
        &supervisor,
    )
    .unwrap()
}

fn request(id: &str, what: &str) -> String {
    json!({"id": id, "do": what}).to_string()
}

async fn up(s: &WsSession) {
    assert!(
        s.wait_up(Duration::from_secs(5)).await,
        "the session comes up"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_find_their_callers_whatever_their_order() {
    let cancel = CancellationToken::new();
    let s = Arc::new(session(&server().await, &cancel));
    up(&s).await;
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let s = s.clone();
            let id = s.next_id();
            tokio::spawn(async move {
                let answer = s
                    .call(id.clone(), request(&id, "hold"), Duration::from_secs(5))
                    .await;
                (id, answer)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let last = s.next_id();
    let released = s
        .call(
            last.clone(),
            request(&last, "release"),
            Duration::from_secs(5),
        )
        .await;
    assert!(released.unwrap().contains(&last));
    for call in calls {
        let (id, answer) = call.await.unwrap();
        let answer: Value = serde_json::from_str(&answer.unwrap()).unwrap();
        assert_eq!(answer["id"], id.as_str(), "each caller gets its own answer");
    }
    let health = s.health();
    assert_eq!((health.sent, health.answered, health.lost), (11, 11, 0));
    cancel.cancel();
}

#[tokio::test]
async fn a_call_while_the_session_is_down_is_not_sent() {
    let cancel = CancellationToken::new();
    // Nothing listens there: the session never comes up.
    let s = session("ws://127.0.0.1:9/none", &cancel);
    let answer = s
        .call(s.next_id(), request("x", "answer"), Duration::from_secs(5))
        .await;
    assert!(matches!(answer, Err(Unanswered::NotSent(_))), "{answer:?}");
    assert!(!s.is_up());
    assert_eq!(s.health().sent, 0);
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drop_loses_the_calls_in_flight_and_the_session_comes_back() {
    let cancel = CancellationToken::new();
    let s = Arc::new(session(&server().await, &cancel));
    up(&s).await;
    let held = {
        let s = s.clone();
        let id = s.next_id();
        tokio::spawn(async move {
            s.call(id.clone(), request(&id, "hold"), Duration::from_secs(5))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let id = s.next_id();
    let dropped = s
        .call(id.clone(), request(&id, "drop"), Duration::from_secs(5))
        .await;
    assert!(matches!(dropped, Err(Unanswered::Lost(_))), "{dropped:?}");
    assert!(matches!(held.await.unwrap(), Err(Unanswered::Lost(_))));
    up(&s).await;
    let id = s.next_id();
    let again = s
        .call(id.clone(), request(&id, "answer"), Duration::from_secs(5))
        .await;
    assert!(
        again.unwrap().contains(&id),
        "written on the new connection"
    );
    let health = s.health();
    assert_eq!((health.lost, health.answered), (2, 1));
    assert!(health.reconnects >= 1 && health.up);
    cancel.cancel();
}

#[tokio::test]
async fn a_call_no_answer_comes_to_times_out() {
    let cancel = CancellationToken::new();
    let s = session(&server().await, &cancel);
    up(&s).await;
    let id = s.next_id();
    let answer = s
        .call(
            id.clone(),
            request(&id, "silent"),
            Duration::from_millis(200),
        )
        .await;
    assert_eq!(
        answer,
        Err(Unanswered::TimedOut(Duration::from_millis(200)))
    );
    assert!(s.is_up(), "the connection itself is fine");
    cancel.cancel();
}
