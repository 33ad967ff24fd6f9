//! Connecting to NATS: address, credentials, TLS.

use std::path::PathBuf;
use std::time::Duration;

use tradewire_core::{Error, Result};

/// Where and how to reach NATS. Secrets are never printed (`Debug` hides them).
#[derive(Clone, Default)]
pub struct NatsOptions {
    /// `nats://host:port` (or `tls://`); several may be given, comma-separated.
    pub url: String,
    pub user: Option<String>,
    pub password: Option<String>,
    pub token: Option<String>,
    /// A `.creds` file (JWT + NKey seed), as NATS accounts issue them.
    pub credentials_file: Option<PathBuf>,
    /// CA certificates (PEM) to trust for a TLS server.
    pub root_certificates: Option<PathBuf>,
    /// Refuse a connection that is not TLS.
    pub require_tls: bool,
    /// The client's name as the server shows it.
    pub name: String,
    pub connect_timeout: Duration,
}

impl std::fmt::Debug for NatsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |set: bool| if set { "<set>" } else { "<none>" };
        f.debug_struct("NatsOptions")
            .field("url", &self.url)
            .field("user", &self.user)
            .field("password", &hidden(self.password.is_some()))
            .field("token", &hidden(self.token.is_some()))
            .field("credentials_file", &self.credentials_file)
            .field("root_certificates", &self.root_certificates)
            .field("require_tls", &self.require_tls)
            .field("name", &self.name)
            .finish()
    }
}

impl NatsOptions {
    pub fn new(url: &str) -> NatsOptions {
        NatsOptions {
            url: url.to_owned(),
            name: "tradewire".to_owned(),
            connect_timeout: Duration::from_secs(5),
            ..NatsOptions::default()
        }
    }

    /// Connects; `on_event` hears the client's connection events and server errors (a
    /// permission violation arrives only this way).
    pub async fn connect(
        &self,
        on_event: impl Fn(async_nats::Event) + Send + Sync + 'static,
    ) -> Result<async_nats::Client> {
        if self.url.is_empty() {
            return Err(Error::invalid_argument(
                "url",
                "name the NATS server, e.g. nats://127.0.0.1:4222",
            ));
        }
        let mut options = async_nats::ConnectOptions::new()
            .name(&self.name)
            .connection_timeout(self.connect_timeout)
            .event_callback(move |event| {
                on_event(event);
                async {}
            });
        if let (Some(user), Some(password)) = (&self.user, &self.password) {
            options = options.user_and_password(user.clone(), password.clone());
        } else if self.user.is_some() || self.password.is_some() {
            return Err(Error::invalid_argument(
                "user",
                "give both a user and a password, or neither",
            ));
        }
        if let Some(token) = &self.token {
            options = options.token(token.clone());
        }
        if let Some(path) = &self.credentials_file {
            options = options
                .credentials_file(path.clone())
                .await
                .map_err(|e| Error::invalid_argument("credentials_file", e.to_string()))?;
        }
        if let Some(path) = &self.root_certificates {
            options = options.add_root_certificates(path.clone());
        }
        if self.require_tls {
            options = options.require_tls(true);
        }
        options
            .connect(self.url.as_str())
            .await
            .map_err(|e| connect_error(&self.url, e))
    }
}

fn connect_error(url: &str, error: async_nats::ConnectError) -> Error {
    use async_nats::ConnectErrorKind as K;
    match error.kind() {
        K::AuthorizationViolation => {
            Error::Denied(format!("NATS at {url} refused the credentials: {error}"))
        }
        K::TimedOut => Error::Timeout {
            what: format!("connecting to NATS at {url}"),
            after: Duration::from_secs(5),
        },
        _ => Error::ConnectionLost(format!("cannot reach NATS at {url}: {error}")),
    }
}

/// Returns once the server has processed everything this client sent before (its
/// subscriptions included): a message to our own inbox comes back only after them. `flush`
/// alone only empties our buffer; another client's message could still find no subscriber.
pub async fn settled(client: &async_nats::Client) -> Result<()> {
    use futures_util::StreamExt;
    let lost = |e: String| Error::ConnectionLost(format!("NATS: {e}"));
    let inbox = client.new_inbox();
    let mut echo = client
        .subscribe(inbox.clone())
        .await
        .map_err(|e| lost(e.to_string()))?;
    client
        .publish(inbox, bytes::Bytes::new())
        .await
        .map_err(|e| lost(e.to_string()))?;
    match tokio::time::timeout(Duration::from_secs(5), echo.next()).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(lost("the connection closed".into())),
        Err(_) => Err(Error::Timeout {
            what: "the NATS server's round trip".into(),
            after: Duration::from_secs(5),
        }),
    }
}
