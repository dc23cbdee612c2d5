//! The front door (feature `server`): how connections are taken and how
//! fast one caller may ask.
//!
//! - [`serve`] accepts at most `api_connections_max` connections at once (one
//!   more is answered `503` in a single non-blocking write and closed),
//!   closes a connection whose request headers take longer than
//!   `api_header_timeout_ms` (on a kept-alive connection too, so an idle
//!   or slow client cannot hold one), and drains open connections on
//!   shutdown within a bound.
//! - [`RateLimiter`] gives each caller a token bucket: a signed caller by
//!   its key, once its signature verified (so nobody can spend another's
//!   allowance by naming its key), and an unsigned one, or one whose
//!   signature failed, by its IP address. Over it, `429 rate_limited` with
//!   `retry-after`.
//! - With TLS configured ([`super::tls`]) every connection is a TLS one; its
//!   handshake is bounded by the header timeout.
//! - The body read timeout (`api_body_timeout_ms`, `408 request_timeout`)
//!   is enforced where bodies are read, in [`super::access::authenticate`].
//!
//! Every refusal is counted in `/metrics`.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, header::RETRY_AFTER};
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower_service::Service;

use super::dto::ErrorCode;
use super::router::ApiError;
use crate::metrics::Metrics;

/// Most callers tracked at once. When the table is full, callers whose
/// bucket has refilled are forgotten (they lose nothing); if it is still
/// full, a new caller waits a second (refused, counted), so a flood of
/// distinct addresses cannot grow the node's memory.
pub const RATE_BUCKETS_MAX: usize = 65_536;

/// How long shutdown waits for open connections to finish their request.
const DRAIN_MAX: Duration = Duration::from_secs(5);

/// The answer to a connection over `api_connections_max`.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
retry-after: 1\r\nconnection: close\r\ncontent-length: 124\r\n\r\n\
{\"error\":{\"code\":\"too_many_connections\",\"message\":\"the node has as many API connections open as it may; try again shortly\"}}";

/// Whose allowance a request is taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    /// An unsigned caller, or one whose signature did not verify.
    Address(IpAddr),
    /// A caller whose signature verified.
    Key([u8; 32]),
}

impl Bucket {
    /// The address bucket of `request` (the loopback unspecified address
    /// when the request did not come through [`serve`], as in tests that
    /// call the router directly).
    pub fn address_of<B>(request: &Request<B>) -> Bucket {
        Bucket::Address(
            request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip()),
        )
    }
}

#[derive(Debug, Clone, Copy)]
struct Tokens {
    available: f64,
    at: Instant,
}

/// Token buckets per caller: `per_sec` sustained, `burst` at once.
#[derive(Debug)]
pub struct RateLimiter {
    per_sec: f64,
    burst: f64,
    buckets: std::sync::Mutex<HashMap<Bucket, Tokens>>,
}

impl RateLimiter {
    /// A limiter; `per_sec == 0` admits everything.
    pub fn new(per_sec: u32, burst: u32) -> RateLimiter {
        RateLimiter {
            per_sec: f64::from(per_sec),
            burst: f64::from(burst.max(1)),
            buckets: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `bucket`'s allowance at `now`: `Err(wait)`
    /// when it has none, `wait` being how long until it has one again.
    pub fn take(&self, bucket: Bucket, now: Instant) -> Result<(), Duration> {
        if self.per_sec <= 0.0 {
            return Ok(());
        }
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !buckets.contains_key(&bucket) && buckets.len() >= RATE_BUCKETS_MAX {
            let (per_sec, burst) = (self.per_sec, self.burst);
            buckets.retain(|_, t| refill(*t, now, per_sec, burst) < burst);
            if buckets.len() >= RATE_BUCKETS_MAX {
                return Err(Duration::from_secs(1));
            }
        }
        let tokens = buckets.entry(bucket).or_insert(Tokens {
            available: self.burst,
            at: now,
        });
        let available = refill(*tokens, now, self.per_sec, self.burst);
        if available >= 1.0 {
            *tokens = Tokens {
                available: available - 1.0,
                at: now,
            };
            Ok(())
        } else {
            *tokens = Tokens { available, at: now };
            Err(Duration::from_secs_f64((1.0 - available) / self.per_sec))
        }
    }

    /// Callers tracked now.
    pub fn tracked(&self) -> usize {
        self.buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }
}

fn refill(tokens: Tokens, now: Instant, per_sec: f64, burst: f64) -> f64 {
    let elapsed = now.saturating_duration_since(tokens.at).as_secs_f64();
    (tokens.available + elapsed * per_sec).min(burst)
}

/// The `429` for a caller that must wait `wait`.
pub fn rate_limited(wait: Duration, metrics: &Metrics) -> Response {
    metrics
        .api_rate_limited_total
        .fetch_add(1, Ordering::Relaxed);
    let seconds = wait
        .as_secs()
        .saturating_add(u64::from(wait.subsec_nanos() > 0));
    let mut response = ApiError::new(
        ErrorCode::RateLimited,
        format!(
            "this caller is over its request rate; try again in {} ms",
            wait.as_millis()
        ),
    )
    .into_response();
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    response
}

/// Connection bounds, and TLS if configured.
#[derive(Clone)]
pub struct FrontDoor {
    /// Most connections open at once.
    pub connections_max: usize,
    /// Longest a request's headers (and a TLS handshake) may take.
    pub header_timeout: Duration,
    /// TLS on every connection (see [`super::tls`]); plain HTTP if `None`.
    pub tls: Option<TlsAcceptor>,
}

/// Serves `app` on `listener` within `door`'s bounds until `shutdown`
/// flips, then lets open connections finish (at most [`DRAIN_MAX`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    door: FrontDoor,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let open = Arc::new(Semaphore::new(door.connections_max.max(1)));
    let mut connections = JoinSet::new();
    loop {
        if *shutdown.borrow() {
            break;
        }
        let (stream, peer) = tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, or a connection reset before
                    // it was taken: wait a moment rather than spin.
                    tracing::warn!(%error, "the API could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        while connections.try_join_next().is_some() {}
        let Ok(permit) = open.clone().try_acquire_owned() else {
            metrics
                .api_connections_refused_total
                .fetch_add(1, Ordering::Relaxed);
            if door.tls.is_none() {
                let _ = stream.try_write(BUSY);
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        metrics.api_connections_open.fetch_add(1, Ordering::Relaxed);
        let connection = Connection {
            peer,
            app: app.clone(),
            header_timeout: door.header_timeout,
            metrics: metrics.clone(),
            shutdown: shutdown.clone(),
        };
        let tls = door.tls.clone();
        connections.spawn(async move {
            let metrics = connection.metrics.clone();
            match tls {
                None => connection.serve(stream).await,
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(connection.header_timeout, acceptor.accept(stream))
                            .await;
                    match handshake {
                        Ok(Ok(stream)) => connection.serve(stream).await,
                        Ok(Err(error)) => {
                            metrics.api_tls_failed_total.fetch_add(1, Ordering::Relaxed);
                            tracing::debug!(%error, %peer, "API TLS handshake failed");
                        }
                        Err(_) => {
                            metrics.api_tls_failed_total.fetch_add(1, Ordering::Relaxed);
                            metrics.api_timeouts_total.fetch_add(1, Ordering::Relaxed);
                            tracing::debug!(%peer, "API TLS handshake too slow");
                        }
                    }
                }
            }
            metrics.api_connections_open.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
        });
    }
    let drained = tokio::time::timeout(DRAIN_MAX, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            "API connections still open after the drain bound; closing them"
        );
        connections.abort_all();
    }
    Ok(())
}

/// One accepted connection, plain or after its TLS handshake.
struct Connection {
    peer: SocketAddr,
    app: Router,
    header_timeout: Duration,
    metrics: Arc<Metrics>,
    shutdown: watch::Receiver<bool>,
}

impl Connection {
    /// Serves HTTP/1.1 on `stream` until the client closes it, a header
    /// timeout, or shutdown (the request in flight finishes).
    async fn serve<S>(self, stream: S)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let Connection {
            peer,
            app,
            header_timeout,
            metrics,
            mut shutdown,
        } = self;
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let mut app = app.clone();
            async move { app.call(request.map(Body::new)).await }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout);
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        tokio::pin!(connection);
        let result = tokio::select! {
            result = connection.as_mut() => result,
            _ = shutdown.changed() => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        if let Err(error) = result {
            if error.is_timeout() {
                metrics.api_timeouts_total.fetch_add(1, Ordering::Relaxed);
            }
            tracing::debug!(%error, %peer, "API connection ended");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_gets_its_burst_then_its_rate_and_others_are_untouched() {
        let limiter = RateLimiter::new(10, 3);
        let t0 = Instant::now();
        let a = Bucket::Address(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let b = Bucket::Key([7; 32]);
        for _ in 0..3 {
            assert!(limiter.take(a, t0).is_ok());
        }
        let wait = limiter.take(a, t0).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(100),
            "{wait:?}"
        );
        // Another caller has its own allowance.
        assert!(limiter.take(b, t0).is_ok());
        // After 100 ms, one more (10 per second).
        let t1 = t0 + Duration::from_millis(100);
        assert!(limiter.take(a, t1).is_ok());
        assert!(limiter.take(a, t1).is_err());
        // Refilled to the burst, never beyond.
        let t2 = t1 + Duration::from_secs(60);
        for _ in 0..3 {
            assert!(limiter.take(a, t2).is_ok());
        }
        assert!(limiter.take(a, t2).is_err());
    }

    #[test]
    fn no_rate_admits_everything() {
        let limiter = RateLimiter::new(0, 0);
        let t0 = Instant::now();
        for _ in 0..10_000 {
            assert!(limiter.take(Bucket::Key([1; 32]), t0).is_ok());
        }
        assert_eq!(limiter.tracked(), 0);
    }

    #[test]
    fn the_table_is_bounded_and_forgets_only_refilled_callers() {
        let limiter = RateLimiter::new(1, 2);
        let t0 = Instant::now();
        let key = |i: usize| {
            let mut k = [0; 32];
            k[..8].copy_from_slice(&(i as u64).to_le_bytes());
            Bucket::Key(k)
        };
        for i in 0..RATE_BUCKETS_MAX {
            assert!(limiter.take(key(i), t0).is_ok());
        }
        // Full, nobody refilled: a new caller waits.
        assert!(limiter.take(key(RATE_BUCKETS_MAX), t0).is_err());
        assert_eq!(limiter.tracked(), RATE_BUCKETS_MAX);
        // One second later everyone has refilled: they are forgotten and
        // the newcomer is taken.
        let t1 = t0 + Duration::from_secs(1);
        assert!(limiter.take(key(RATE_BUCKETS_MAX), t1).is_ok());
        assert_eq!(limiter.tracked(), 1);
    }

    #[test]
    fn the_busy_answer_is_one_whole_response() {
        let text = std::str::from_utf8(BUSY).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        let value: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(
            value["error"]["code"],
            ErrorCode::TooManyConnections.as_str()
        );
        assert_eq!(ErrorCode::TooManyConnections.http_status(), 503);
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up() {
        let metrics = Metrics::default();
        let response = rate_limited(Duration::from_millis(1_200), &metrics);
        assert_eq!(response.status().as_u16(), 429);
        assert_eq!(response.headers()[RETRY_AFTER], "2");
        assert_eq!(metrics.api_rate_limited_total.load(Ordering::Relaxed), 1);
    }
}
