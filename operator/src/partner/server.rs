//! Serving a receiver over HTTPS: `POST` on any path, one message per request, answered
//! with JSON once the message is kept.
//!
//! Each connection's TLS handshake runs in its own task, so a slow client holds up only
//! itself. Receiving a message (checking, writing the journal, applying) runs on Tokio's
//! blocking pool, off the async workers.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::LengthLimitError;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use super::ReceiverError;
use super::receiver::{Delivery, Receiver};
use crate::delivery::wire::{IDEMPOTENCY_HEADER, SIGNATURE_HEADER, SignatureCheck};

/// The largest body accepted unless [`ReceiverConfig::max_body_bytes`] says otherwise.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// How long a client has to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long open connections have to finish once the receiver is told to stop.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// What a receiver needs to run.
#[derive(Debug)]
pub struct ReceiverConfig {
    /// The store folder: the journal and the duplicates log.
    pub store: PathBuf,
    /// How Accord's signatures are checked.
    pub check: SignatureCheck,
    /// The certificate and key presented to clients.
    pub tls: Arc<rustls::ServerConfig>,
    /// Larger bodies are refused with 413.
    pub max_body_bytes: usize,
}

impl ReceiverConfig {
    /// A configuration with the default body limit.
    pub fn new(
        store: impl Into<PathBuf>,
        check: SignatureCheck,
        tls: Arc<rustls::ServerConfig>,
    ) -> ReceiverConfig {
        ReceiverConfig {
            store: store.into(),
            check,
            tls,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

/// Replays the store, then serves HTTPS on `listener` until `shutdown` resolves, and lets
/// open connections finish.
pub async fn serve(
    config: ReceiverConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ReceiverError> {
    let receiver = open(config.store, config.check).await?;
    run(
        receiver,
        config.tls,
        config.max_body_bytes,
        listener,
        shutdown,
    )
    .await
}

/// Replays the store, then serves HTTPS on `listener` in a task of its own until the
/// returned handle is stopped or dropped.
pub async fn spawn(
    config: ReceiverConfig,
    listener: TcpListener,
) -> Result<RunningReceiver, ReceiverError> {
    let address = listener.local_addr()?;
    let receiver = open(config.store, config.check).await?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(run(
        receiver.clone(),
        config.tls,
        config.max_body_bytes,
        listener,
        async {
            let _ = stopped.await;
        },
    ));
    Ok(RunningReceiver {
        address,
        receiver,
        stop: Some(stop),
        task,
    })
}

/// A receiver serving in the background, from [`spawn`].
#[derive(Debug)]
pub struct RunningReceiver {
    address: SocketAddr,
    receiver: Arc<Receiver>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ReceiverError>>,
}

impl RunningReceiver {
    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `https://<address><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.address)
    }

    /// The receiver, to read what it holds while it runs.
    pub fn receiver(&self) -> &Receiver {
        &self.receiver
    }

    /// Stops accepting connections and waits for open ones to finish.
    pub async fn stop(mut self) -> Result<(), ReceiverError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(result) => result,
            Err(error) => Err(ReceiverError::Task(error.to_string())),
        }
    }
}

impl Drop for RunningReceiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn open(store: PathBuf, check: SignatureCheck) -> Result<Arc<Receiver>, ReceiverError> {
    // Replaying reads every journal file: blocking work.
    let opened = tokio::task::spawn_blocking(move || Receiver::open(&store, check)).await;
    match opened {
        Ok(receiver) => Ok(Arc::new(receiver?)),
        Err(error) => Err(ReceiverError::Task(error.to_string())),
    }
}

async fn run(
    receiver: Arc<Receiver>,
    tls: Arc<rustls::ServerConfig>,
    max_body_bytes: usize,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ReceiverError> {
    let app = Router::new().fallback(receive).with_state(Arc::new(Shared {
        receiver,
        max_body_bytes,
    }));
    let acceptor = TlsAcceptor::from(tls);
    let graceful = GracefulShutdown::new();
    let address = listener.local_addr()?;
    tracing::info!(%address, "Partner receiver listening");

    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Usually out of file descriptors: wait for some to close.
                    tracing::warn!(%error, "Failed to accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let acceptor = acceptor.clone();
        let service = TowerToHyperService::new(app.clone());
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(error)) => {
                    tracing::debug!(%peer, %error, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service);
            if let Err(error) = watcher.watch(connection).await {
                tracing::debug!(%peer, %error, "Connection ended with an error");
            }
        });
    }

    tracing::info!(%address, "Partner receiver stopping");
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("Connections still open at shutdown were dropped");
    }
    Ok(())
}

struct Shared {
    receiver: Arc<Receiver>,
    max_body_bytes: usize,
}

async fn receive(
    State(shared): State<Arc<Shared>>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if method != Method::POST {
        let mut response = answer(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({ "error": "only POST is served: send each message as a POST" }),
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let body = match read_body(body, shared.max_body_bytes).await {
        Ok(body) => body,
        Err(response) => return response,
    };

    // A header that is not visible ASCII reads as empty, and so fails its check.
    let text = |name: &str| {
        headers
            .get(name)
            .map(|v| v.to_str().unwrap_or("").to_owned())
    };
    let signature = text(SIGNATURE_HEADER);
    let key = text(IDEMPOTENCY_HEADER);
    let receiver = shared.receiver.clone();
    let received = tokio::task::spawn_blocking(move || {
        let delivery = Delivery {
            signature: signature.as_deref(),
            idempotency_key: key.as_deref(),
            body: &body,
        };
        receiver.receive(delivery, unix_now())
    })
    .await;

    match received {
        Ok(Ok(receipt)) => answer(
            StatusCode::OK,
            json!({ "batch": receipt.batch, "result": receipt.outcome.as_str() }),
        ),
        Ok(Err(refusal)) => {
            let status = refusal.status();
            tracing::warn!(status, reason = %refusal, "Message refused");
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            answer(status, json!({ "error": refusal.to_string() }))
        }
        Err(error) => {
            tracing::error!(%error, "Receiving a message failed");
            let error = "the receiver failed while keeping the message; send it again";
            answer(StatusCode::INTERNAL_SERVER_ERROR, json!({ "error": error }))
        }
    }
}

async fn read_body(body: Body, limit: usize) -> Result<Bytes, Response> {
    let too_large = |error: &axum::Error| {
        std::error::Error::source(error).is_some_and(|cause| cause.is::<LengthLimitError>())
    };
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => Ok(bytes),
        Err(error) if too_large(&error) => Err(answer(
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({ "error": format!("the body is over {limit} bytes: send fewer records per batch") }),
        )),
        Err(_) => Err(answer(
            StatusCode::BAD_REQUEST,
            json!({ "error": "the body was cut short" }),
        )),
    }
}

fn answer(status: StatusCode, value: Value) -> Response {
    let headers = [(header::CONTENT_TYPE, "application/json")];
    (status, headers, value.to_string()).into_response()
}

fn unix_now() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX)
}
