//! Pushing messages to a partner over HTTPS: TLS always verified (against the partner's CA
//! when it names one), every message signed, retried with exponential backoff and jitter
//! on failures that may pass (5xx, 429, timeouts, refused connections), and given up at
//! once when the partner refuses it (any other 4xx).

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::{Certificate, Client, StatusCode, Url, header};

use super::wire::{IDEMPOTENCY_HEADER, SIGNATURE_HEADER, Signer};

/// How hard to try one message within a pass.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Attempts per message before leaving it for the next pass.
    pub attempts: u32,
    /// The first wait between attempts; it doubles each time.
    pub base: Duration,
    /// The longest wait between attempts, also the cap on a partner's `Retry-After`.
    pub max: Duration,
    /// How long one request may take.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            attempts: 4,
            base: Duration::from_millis(250),
            max: Duration::from_secs(8),
            timeout: Duration::from_secs(30),
        }
    }
}

/// What became of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The partner confirmed it (2xx).
    Acknowledged,
    /// The partner refused it (4xx other than 429): sending more will not help until
    /// something changes.
    Refused {
        /// The HTTP status.
        status: u16,
        /// What the partner said, cut short; it never holds Accord's data.
        message: String,
    },
    /// Every attempt failed in a way that may pass; it is tried again next pass.
    Failed {
        /// The last failure.
        error: String,
    },
}

/// A partner endpoint, ready to send to.
#[derive(Debug)]
pub struct Endpoint {
    url: Url,
    signer: Signer,
    client: Client,
}

/// Why an endpoint cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// The endpoint is not an https URL.
    #[error("endpoint is not an https:// URL; partners are reached over HTTPS only")]
    NotHttps,
    /// The CA bundle holds no certificate.
    #[error("the CA bundle holds no PEM certificate; give the partner's CA as PEM")]
    BadCa,
    /// The HTTP client could not be built.
    #[error("cannot set up HTTPS: {0}")]
    Client(String),
}

impl Endpoint {
    /// An endpoint at `url`, trusting only `ca_pem` when given (else the system's roots),
    /// with host names in `resolve` sent to fixed addresses (for loopback demos and tests;
    /// the certificate is still checked against the host name).
    pub fn new(
        url: &str,
        signer: Signer,
        ca_pem: Option<&[u8]>,
        resolve: &[(String, SocketAddr)],
        timeout: Duration,
    ) -> Result<Endpoint, EndpointError> {
        let url = Url::parse(url).map_err(|_| EndpointError::NotHttps)?;
        if url.scheme() != "https" {
            return Err(EndpointError::NotHttps);
        }

        // reqwest uses rustls's process-wide provider; install ring unless one already is.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .https_only(true);
        if let Some(pem) = ca_pem {
            let certificates = Certificate::from_pem_bundle(pem)
                .ok()
                .filter(|c| !c.is_empty())
                .ok_or(EndpointError::BadCa)?;
            builder = builder.tls_certs_only(certificates);
        }
        for (host, address) in resolve {
            builder = builder.resolve(host, *address);
        }
        let client = builder
            .build()
            .map_err(|e| EndpointError::Client(innermost(&e)))?;
        Ok(Endpoint {
            url,
            signer,
            client,
        })
    }

    /// Sends one message, retrying as `policy` says.
    pub async fn send(&self, batch: &str, body: &[u8], policy: &RetryPolicy) -> Outcome {
        let mut last_error = String::new();
        for attempt in 0..policy.attempts.max(1) {
            if attempt > 0 {
                tokio::time::sleep(backoff(policy, attempt)).await;
            }
            let signature = self.signer.sign(now_unix(), body);
            let sent = self
                .client
                .post(self.url.clone())
                .header(header::CONTENT_TYPE, "application/json")
                .header(IDEMPOTENCY_HEADER, batch)
                .header(SIGNATURE_HEADER, signature)
                .body(body.to_vec())
                .send()
                .await;
            let response = match sent {
                Ok(response) => response,
                Err(error) => {
                    last_error = innermost(&error);
                    continue;
                }
            };
            let status = response.status();
            if status.is_success() {
                return Outcome::Acknowledged;
            }
            let retry_after = retry_after(&response);
            let text = response.text().await.unwrap_or_default();
            let message = text.chars().take(300).collect::<String>();
            if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
                last_error = format!("HTTP {}: {message}", status.as_u16());
                if let Some(wait) = retry_after {
                    tokio::time::sleep(wait.min(policy.max)).await;
                }
                continue;
            }
            return Outcome::Refused {
                status: status.as_u16(),
                message,
            };
        }
        Outcome::Failed { error: last_error }
    }
}

/// The wait before attempt `attempt` (from 1): `base · 2^(attempt-1)`, capped at `max`,
/// with "equal jitter" (half fixed, half random) so that many senders retrying at once
/// spread out instead of striking together.
pub fn backoff(policy: &RetryPolicy, attempt: u32) -> Duration {
    let exponential = policy
        .base
        .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
        .min(policy.max);
    let half = exponential / 2;
    let mut byte = [0u8; 4];
    let random = getrandom::fill(&mut byte).map_or(0.5, |()| {
        f64::from(u32::from_le_bytes(byte)) / f64::from(u32::MAX)
    });
    half + half.mul_f64(random)
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response.headers().get(header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The innermost cause of a reqwest error: "connection refused", "certificate unknown".
fn innermost(error: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = error;
    while let Some(next) = source.source() {
        source = next;
    }
    source.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap_with_jitter_in_the_upper_half() {
        let policy = RetryPolicy {
            attempts: 10,
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
        };
        for (attempt, full) in [(1, 100), (2, 200), (3, 400), (4, 800), (5, 1000), (9, 1000)] {
            for _ in 0..50 {
                let wait = backoff(&policy, attempt).as_millis();
                assert!(
                    (full / 2..=full).contains(&wait),
                    "attempt {attempt}: {wait} ms not within [{}, {full}]",
                    full / 2
                );
            }
        }
        let spread: std::collections::BTreeSet<u128> =
            (0..50).map(|_| backoff(&policy, 4).as_millis()).collect();
        assert!(spread.len() > 5, "jitter spreads retries: {spread:?}");
    }

    #[test]
    fn only_https_endpoints_are_accepted() {
        let signer = || Signer::Hmac(b"s".to_vec());
        let plain = Endpoint::new(
            "http://127.0.0.1:1/x",
            signer(),
            None,
            &[],
            Duration::from_secs(1),
        );
        assert!(matches!(plain, Err(EndpointError::NotHttps)));
        let bad_ca = Endpoint::new(
            "https://p.example/x",
            signer(),
            Some(b"nope"),
            &[],
            Duration::from_secs(1),
        );
        assert!(matches!(bad_ca, Err(EndpointError::BadCa)));
    }
}
