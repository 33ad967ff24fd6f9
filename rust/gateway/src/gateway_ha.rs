//! Active/standby gateways: the gateways of a group share one lease in the JetStream KV
//! bucket [`LEASES_BUCKET`]; the one holding it serves, the others wait with their connectors
//! started. The lease is an entry that expires `ttl` after its last renewal (the bucket's
//! `max_age`), renewed every `ttl / 3` by compare-and-set on its revision: a gateway that
//! dies stops renewing and a standby creates the entry once it has expired; a gateway that
//! finds its revision taken stops serving at once.
//!
//! A gateway that becomes active starts everything it was asked to serve (its connectors'
//! account streams reconcile with the venue on start) and announces itself on each label's
//! `...md.<label>.gateway` subject; remotes report the change as `gateway_failover`. While
//! two overlap for a moment, requests and commands go to one of them (a queue group) and
//! account events are stored once (message ids).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::{Mutex, Weak};
use std::time::Duration;

use async_nats::jetstream::kv;
use serde::{Deserialize, Serialize};
use tradewire_core::connector::Connector;
use tradewire_core::{Error, Result};

use crate::gateway::{Channels, Gateway, nats_error, to_json};
use crate::subjects::token;
use crate::wire::SCHEMA;

/// The KV bucket of the groups' leases.
pub const LEASES_BUCKET: &str = "tw_leases";

/// A gateway that serves only while it holds its group's lease.
#[derive(Debug, Clone)]
pub struct Standby {
    /// The group: gateways of one group serve the same venue accounts.
    pub group: String,
    /// This gateway's name (in the lease and in announcements); drawn if not given.
    pub name: Option<String>,
    /// How long a lease outlives its holder's last renewal: a standby takes over about this
    /// long after the active gateway died.
    pub ttl: Duration,
}

/// What a gateway was asked to serve.
#[derive(Debug, Clone)]
pub(crate) enum Plan {
    MarketData {
        connector: Weak<Connector>,
        symbols: Vec<String>,
        channels: Channels,
        book_depth: usize,
    },
    Account(Weak<Connector>),
}

/// `...md.<label>.gateway`: a gateway became the one serving the label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveMsg {
    pub v: u32,
    /// `active`.
    pub kind: String,
    pub gateway: String,
    pub epoch: u64,
}

impl Gateway {
    pub(crate) async fn start_lease(self: &Arc<Self>, standby: Standby) -> Result<()> {
        token("group", &standby.group)?;
        let name = self.name.clone();
        token("name", &name)?;
        if standby.ttl < Duration::from_secs(1) {
            return Err(Error::invalid_argument("ttl", "a lease lasts at least 1 s"));
        }
        let leases = self.leases(standby.ttl).await?;
        *self.lease.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((leases.clone(), standby.clone()));
        let gateway = Arc::downgrade(self);
        self.supervisor
            .spawn(format!("lease/{}", standby.group), move |ctx| {
                let (gateway, leases, standby, name) =
                    (gateway.clone(), leases.clone(), standby.clone(), name.clone());
                async move {
                    let renew_every = standby.ttl / 3;
                    loop {
                        let Some(g) = gateway.upgrade() else { return Ok(()) };
                        // Otherwise held by another (or NATS is away): wait and try again.
                        if let Ok(mut revision) =
                            leases.create(&standby.group, name.clone().into()).await
                        {
                                tracing::info!(group = %standby.group, gateway = %name, "gateway: lease taken; serving");
                                g.activate().await;
                                loop {
                                    tokio::select! {
                                        _ = ctx.cancel.cancelled() => return Ok(()),
                                        _ = tokio::time::sleep(renew_every) => {}
                                    }
                                    match leases
                                        .update(&standby.group, name.clone().into(), revision)
                                        .await
                                    {
                                        Ok(next) => revision = next,
                                        Err(error) => {
                                            tracing::error!(%error, group = %standby.group, "gateway: lease lost; stopping");
                                            g.deactivate().await;
                                            break;
                                        }
                                    }
                                }
                        }
                        drop(g);
                        tokio::select! {
                            _ = ctx.cancel.cancelled() => return Ok(()),
                            _ = tokio::time::sleep(renew_every) => {}
                        }
                    }
                }
            });
        Ok(())
    }

    async fn leases(&self, ttl: Duration) -> Result<kv::Store> {
        match self.js.get_key_value(LEASES_BUCKET).await {
            Ok(store) => Ok(store),
            Err(_) => self
                .js
                .create_key_value(kv::Config {
                    bucket: LEASES_BUCKET.to_owned(),
                    history: 1,
                    max_age: ttl,
                    ..Default::default()
                })
                .await
                .map_err(|e| nats_error(format!("creating the KV bucket {LEASES_BUCKET}: {e}"))),
        }
    }

    /// Starts serving everything asked for.
    async fn activate(self: &Arc<Self>) {
        self.new_serving().await;
        self.active.store(true, Ordering::Release);
        let plans = self.plans.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for plan in plans {
            let (connector, started) = match plan {
                Plan::MarketData {
                    connector,
                    symbols,
                    channels,
                    book_depth,
                } => {
                    let Some(c) = connector.upgrade() else {
                        continue;
                    };
                    let started = self
                        .run_market_data(&c, &symbols, channels, book_depth)
                        .await;
                    (c, started)
                }
                Plan::Account(connector) => {
                    let Some(c) = connector.upgrade() else {
                        continue;
                    };
                    (c.clone(), self.run_account(c).await)
                }
            };
            if let Err(error) = started {
                tracing::error!(%error, label = %connector.label(), "gateway: could not start serving");
            }
        }
    }

    /// Stops serving (the lease is someone else's).
    async fn deactivate(&self) {
        self.active.store(false, Ordering::Release);
        self.new_serving().await;
        self.served
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Hands the lease over at a clean close, so a standby need not wait for it to expire.
    pub(crate) async fn release_lease(&self) {
        let lease = self.lease.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some((leases, standby)) = lease
            && self.active.swap(false, Ordering::AcqRel)
        {
            // Only our own entry: a compare-and-delete would need its revision; an entry
            // someone else created after ours expired is left alone by checking first.
            if let Ok(Some(holder)) = leases.get(&standby.group).await
                && holder == self.name.as_bytes()
                && let Err(error) = leases.delete(&standby.group).await
            {
                tracing::warn!(%error, "gateway: the lease was not handed over");
            }
        }
    }

    /// Tells remotes of `label` that this gateway serves it now.
    pub(crate) async fn announce(&self, label: &str) {
        let Ok(subject) = self.subjects.gateway(label) else {
            return;
        };
        let body = to_json(&ActiveMsg {
            v: SCHEMA,
            kind: "active".into(),
            gateway: self.name.clone(),
            epoch: self.epoch(),
        });
        if let Err(error) = self.client.publish(subject, body.into()).await {
            tracing::warn!(%error, "gateway: not announced");
        }
    }
}

/// The lease a gateway of a standby group holds or waits for.
pub(crate) type Lease = Mutex<Option<(kv::Store, Standby)>>;
