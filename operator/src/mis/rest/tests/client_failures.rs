//! The connector against failing or quirky servers: each failure a clear error naming the
//! request, never a secret, a token or a person's value.

use std::time::{Duration, Instant};

use super::{CLIENT_SECRET, sample_bundle, start};
use crate::catalogue::Area;
use crate::mis::rest::error::RestErrorKind;
use crate::mis::rest::{Fault, RestError, ServerOptions, fetch, read_rest};
use crate::mis::{FieldSet, MisError};

fn pupil_names() -> FieldSet {
    FieldSet::new()
        .with(Area::Students, &["givenName", "familyName"])
        .unwrap()
}

/// Checks a message is free of the secret and of every pupil's names.
fn assert_discreet(message: &str, sample: &crate::mis::sample::SampleSchool) {
    assert!(!message.contains(CLIENT_SECRET), "{message}");
    for pupil in &sample.students {
        assert!(!message.contains(&pupil.family_name), "{message}");
    }
}

#[tokio::test]
async fn server_error_is_a_status_error_naming_the_page() {
    let (sample, dir) = sample_bundle(40);
    let options = ServerOptions::default().fault(Fault::Status {
        nth: 2,
        status: 500,
    });
    let running = start(dir.path(), options).await;

    let error = read_rest(&running.config(), &pupil_names())
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(
            RestError::kind_of(&error),
            Some(RestErrorKind::Status { status: 500 })
        ),
        "{message}"
    );
    assert!(
        message.starts_with("GET /ims/oneroster/v1p1/students?offset=7:"),
        "{message}"
    );
    assert!(message.contains("HTTP 500"), "{message}");
    assert_discreet(&message, &sample);
}

#[tokio::test]
async fn hanging_server_gives_a_timeout_within_the_configured_time() {
    let (_, dir) = sample_bundle(20);
    let running = start(
        dir.path(),
        ServerOptions::default().fault(Fault::Hang { nth: 1 }),
    )
    .await;
    let mut config = running.config();
    config.timeout = Duration::from_millis(400);

    let started = Instant::now();
    let error = fetch(&config, &pupil_names()).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(error.kind, RestErrorKind::Timeout { .. }),
        "{error}"
    );
    assert!(
        error.to_string().contains("no answer within 0.4s"),
        "{error}"
    );
}

#[tokio::test]
async fn bad_credentials_are_refused_at_the_token_endpoint() {
    let (sample, dir) = sample_bundle(20);
    let running = start(dir.path(), ServerOptions::default()).await;
    let mut config = running.config();
    config.client_secret = "guessed-secret".into();

    let error = read_rest(&config, &pupil_names()).await.unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(
            RestError::kind_of(&error),
            Some(RestErrorKind::Credentials { status: 401 })
        ),
        "{message}"
    );
    assert!(message.starts_with("POST /token:"), "{message}");
    assert!(!message.contains("guessed-secret"), "{message}");
    assert_discreet(&message, &sample);
}

#[tokio::test]
async fn refused_connection_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let origin = format!("http://{address}");
    let mut config = crate::mis::rest::RestConfig::new(
        format!("{origin}/ims/oneroster/v1p1"),
        format!("{origin}/token"),
        "id",
        CLIENT_SECRET,
    );
    config.timeout = Duration::from_secs(5);

    let error = read_rest(&config, &pupil_names()).await.unwrap_err();
    assert!(
        matches!(
            RestError::kind_of(&error),
            Some(RestErrorKind::Connect { .. })
        ),
        "{error}"
    );
    assert!(matches!(&error, MisError::Io { source, .. }
        if source.kind() == std::io::ErrorKind::ConnectionRefused));
    assert!(!error.to_string().contains(CLIENT_SECRET));
}

#[tokio::test]
async fn answer_that_is_not_json_is_a_bad_body_error() {
    let (_, dir) = sample_bundle(20);
    let running = start(
        dir.path(),
        ServerOptions::default().fault(Fault::Garbage { nth: 1 }),
    )
    .await;

    let error = fetch(&running.config(), &pupil_names()).await.unwrap_err();
    assert!(
        matches!(error.kind, RestErrorKind::BadBody { .. }),
        "{error}"
    );
    assert!(
        error.path.starts_with("GET /ims/oneroster/v1p1/students"),
        "{error}"
    );
}

#[tokio::test]
async fn tokens_the_api_keeps_refusing_give_an_unauthorised_error() {
    let (_, dir) = sample_bundle(20);
    let options = ServerOptions {
        token_lifetime: Some(Duration::ZERO),
        ..ServerOptions::default()
    };
    let running = start(dir.path(), options).await;

    let error = fetch(&running.config(), &pupil_names()).await.unwrap_err();
    assert!(
        matches!(error.kind, RestErrorKind::Unauthorised { status: 401 }),
        "{error}"
    );
}

#[tokio::test]
async fn ca_that_is_not_pem_is_a_configuration_error() {
    let mut config = crate::mis::rest::RestConfig::new(
        "https://mis.example/ims/oneroster/v1p1",
        "https://mis.example/token",
        "id",
        CLIENT_SECRET,
    );
    config.ca_pem = Some(b"not a certificate".to_vec());

    let error = fetch(&config, &pupil_names()).await.unwrap_err();
    assert!(
        matches!(error.kind, RestErrorKind::Config { .. }),
        "{error}"
    );
    assert_eq!(error.path, "ca_pem");
}

#[tokio::test]
async fn server_capping_the_page_size_is_still_read_whole() {
    // The server serves at most 1000 records a page, fewer than asked for here.
    let (sample, dir) = sample_bundle(1150);
    let running = start(dir.path(), ServerOptions::default()).await;
    let mut config = running.config();
    config.page_size = 5000;

    let extract = fetch(&config, &pupil_names()).await.unwrap();
    assert_eq!(extract.records(Area::Students).len(), sample.students.len());
}
