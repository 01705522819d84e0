//! A receiver spawned in process, spoken to over HTTPS as a test or benchmark would.

use std::net::IpAddr;

use serde_json::Value;

use super::{SECRET, pupils, records};
use crate::catalogue::Area;
use crate::delivery::wire::{IDEMPOTENCY_HEADER, SIGNATURE_HEADER, SignatureCheck, Signer};
use crate::partner::{Holdings, ReceiverConfig, RunningReceiver, spawn};
use crate::tls::{CERT_FILE, KEY_FILE, issue, server_config};

async fn start(dir: &std::path::Path, max_body_bytes: usize) -> (RunningReceiver, reqwest::Client) {
    let localhost: IpAddr = "127.0.0.1".parse().unwrap();
    let issued = issue(&["localhost".to_owned()], &[localhost]).unwrap();
    issued.write(&dir.join("certs")).unwrap();
    let tls = server_config(
        &dir.join("certs").join(CERT_FILE),
        &dir.join("certs").join(KEY_FILE),
    );
    let check = SignatureCheck::Hmac(SECRET.to_vec());
    let mut config = ReceiverConfig::new(dir.join("store"), check, tls.unwrap());
    config.max_body_bytes = max_body_bytes;
    let listener = tokio::net::TcpListener::bind((localhost, 0)).await.unwrap();
    let running = spawn(config, listener).await.unwrap();

    let _ = rustls::crypto::ring::default_provider().install_default();
    let ca = reqwest::Certificate::from_pem(issued.ca_pem.as_bytes()).unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_only([ca])
        .build()
        .unwrap();
    (running, client)
}

async fn answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap();
    (status, serde_json::from_slice(&body).unwrap())
}

#[tokio::test]
async fn a_spawned_receiver_applies_over_https_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (running, client) = start(dir.path(), 1 << 20).await;
    let message = records("b1", Area::Students, pupils());
    let body = serde_json::to_vec(&message).unwrap();
    let now = jiff::Timestamp::now().as_second();

    let posted = client
        .post(running.url("/any/path/at/all"))
        .header(
            SIGNATURE_HEADER,
            Signer::Hmac(SECRET.to_vec()).sign(now, &body),
        )
        .header(IDEMPOTENCY_HEADER, "b1")
        .body(body)
        .send()
        .await
        .unwrap();
    let (status, reply) = answer(posted).await;
    assert_eq!(
        (status, reply["result"].as_str()),
        (200, Some("applied")),
        "{reply}"
    );
    let held = running.receiver().with_holdings(Holdings::record_count);
    assert_eq!(held.unwrap(), 3);

    running.stop().await.unwrap();
    assert_eq!(
        Holdings::load(&dir.path().join("store")).unwrap().batches(),
        ["b1"]
    );
}

#[tokio::test]
async fn only_posts_within_the_size_limit_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let (running, client) = start(dir.path(), 1024).await;

    let (status, reply) = answer(client.get(running.url("/")).send().await.unwrap()).await;
    assert_eq!(status, 405, "{reply}");

    let large = client.post(running.url("/")).body(vec![b' '; 4096]);
    let (status, reply) = answer(large.send().await.unwrap()).await;
    assert_eq!(status, 413, "{reply}");
    assert!(
        reply["error"].as_str().unwrap().contains("1024 bytes"),
        "{reply}"
    );

    let (status, reply) = answer(
        client
            .post(running.url("/"))
            .body("{}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401, "{reply}");
}
