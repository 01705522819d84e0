//! Storing, reading, tampering with and expiring entries.

use super::*;

#[tokio::test]
async fn entry_round_trips_through_the_cache() {
    let Fixture { cache, _dir, .. } = fixture().await;

    cache
        .put("oak", Area::Students, PUPILS, 1, in_days(30))
        .await
        .expect("put");

    let read = cache
        .get("oak", Area::Students, SystemTime::now())
        .await
        .expect("get");
    assert_eq!(read.as_deref(), Some(PUPILS));
    assert_eq!(
        cache
            .get("oak", Area::Staff, SystemTime::now())
            .await
            .expect("get"),
        None
    );
}

#[tokio::test]
async fn each_put_seals_afresh_and_no_plaintext_reaches_disk() {
    let Fixture { cache, _dir, .. } = fixture().await;
    let state = cache.state();

    cache
        .put("oak", Area::Students, PUPILS, 1, in_days(30))
        .await
        .expect("put");
    let first = state
        .entry("oak", Area::Students)
        .await
        .expect("read")
        .expect("stored");
    assert!(
        !contains(&disk_bytes(state), b"MARKER-amelia"),
        "plaintext in the WAL"
    );

    cache
        .put("oak", Area::Students, PUPILS, 1, in_days(30))
        .await
        .expect("put again");
    let second = state
        .entry("oak", Area::Students)
        .await
        .expect("read")
        .expect("stored");
    assert_ne!(first.sealed.nonce, second.sealed.nonce);
    assert_ne!(first.sealed.bytes, second.sealed.bytes);

    state.checkpoint().await.expect("checkpoint");
    assert!(
        !contains(&disk_bytes(state), b"MARKER-amelia"),
        "plaintext in the database"
    );
}

#[tokio::test]
async fn entry_moved_to_another_area_is_corrupt() {
    let Fixture { cache, _dir, .. } = fixture().await;
    let state = cache.state();
    cache
        .put("oak", Area::Students, PUPILS, 1, in_days(30))
        .await
        .expect("put");

    let stored = state
        .entry("oak", Area::Students)
        .await
        .expect("read")
        .expect("stored");
    store_raw(state, "oak", Area::Staff, &stored.sealed).await;

    let error = cache
        .get("oak", Area::Staff, SystemTime::now())
        .await
        .expect_err("moved");
    assert!(
        matches!(error, CacheError::Corrupt { ref school, area: Area::Staff } if school == "oak")
    );
    let original = cache
        .get("oak", Area::Students, SystemTime::now())
        .await
        .expect("get");
    assert_eq!(original.as_deref(), Some(PUPILS));
}

#[tokio::test]
async fn entry_moved_to_another_school_is_corrupt() {
    let Fixture { cache, _dir, .. } = fixture().await;
    let state = cache.state();
    cache
        .put("oak", Area::Students, PUPILS, 1, in_days(30))
        .await
        .expect("put");
    cache
        .put("elm", Area::Students, b"[]", 0, in_days(30))
        .await
        .expect("put");

    let stored = state
        .entry("oak", Area::Students)
        .await
        .expect("read")
        .expect("stored");
    store_raw(state, "elm", Area::Students, &stored.sealed).await;

    let error = cache
        .get("elm", Area::Students, SystemTime::now())
        .await
        .expect_err("moved");
    assert!(matches!(error, CacheError::Corrupt { ref school, .. } if school == "elm"));
}

#[tokio::test]
async fn flipped_byte_is_corrupt_and_the_entry_erased() {
    let Fixture { cache, _dir, .. } = fixture().await;
    let state = cache.state();
    cache
        .put("oak", Area::Students, PUPILS, 1, in_days(30))
        .await
        .expect("put");

    let mut stored = state
        .entry("oak", Area::Students)
        .await
        .expect("read")
        .expect("stored");
    stored.sealed.bytes[3] ^= 0x01;
    store_raw(state, "oak", Area::Students, &stored.sealed).await;

    let error = cache
        .get("oak", Area::Students, SystemTime::now())
        .await
        .expect_err("tampered");
    assert!(
        error
            .to_string()
            .contains("oak/students failed authentication and was erased")
    );
    assert!(
        state
            .entry("oak", Area::Students)
            .await
            .expect("read")
            .is_none()
    );
    assert_eq!(
        cache
            .get("oak", Area::Students, SystemTime::now())
            .await
            .expect("get"),
        None
    );
}

#[tokio::test]
async fn expired_entries_are_erased() {
    let Fixture { cache, _dir, .. } = fixture().await;
    cache
        .put("oak", Area::Students, PUPILS, 1, in_days(1))
        .await
        .expect("put");
    cache
        .put("oak", Area::Staff, b"[]", 0, in_days(30))
        .await
        .expect("put");
    cache
        .put("elm", Area::Attendance, b"[]", 0, in_days(2))
        .await
        .expect("put");

    let erased = cache.expire(in_days(3)).await.expect("expire");
    assert_eq!(
        erased,
        [
            ("elm".to_owned(), Area::Attendance),
            ("oak".to_owned(), Area::Students)
        ]
    );

    let areas: Vec<Area> = cache
        .entries("oak")
        .await
        .expect("entries")
        .iter()
        .map(|e| e.area)
        .collect();
    assert_eq!(areas, [Area::Staff]);
}

#[tokio::test]
async fn expired_entry_is_not_served_and_is_erased_on_read() {
    let Fixture { cache, _dir, .. } = fixture().await;
    cache
        .put("oak", Area::Students, PUPILS, 1, in_days(1))
        .await
        .expect("put");

    assert_eq!(
        cache
            .get("oak", Area::Students, in_days(2))
            .await
            .expect("get"),
        None
    );
    assert!(cache.entries("oak").await.expect("entries").is_empty());
}

#[tokio::test]
async fn touch_and_entries_report_use_without_decrypting() {
    let Fixture { cache, _dir, .. } = fixture().await;
    let expires = in_days(30);
    cache
        .put("oak", Area::Students, PUPILS, 212, expires)
        .await
        .expect("put");

    let used = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    assert!(
        cache
            .touch("oak", Area::Students, used)
            .await
            .expect("touch")
    );
    assert!(!cache.touch("oak", Area::Staff, used).await.expect("touch"));

    let entries = cache.entries("oak").await.expect("entries");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].record_count, 212);
    assert_eq!(entries[0].last_used_at, used);
    assert_eq!(unix_seconds(entries[0].expires_at), unix_seconds(expires));
}

#[tokio::test]
async fn removed_area_is_gone_and_the_school_keeps_its_others() {
    let Fixture { cache, _dir, .. } = fixture().await;
    cache
        .put("oak", Area::Students, PUPILS, 1, in_days(30))
        .await
        .expect("put");
    cache
        .put("oak", Area::Staff, b"[]", 0, in_days(30))
        .await
        .expect("put");

    assert!(cache.remove("oak", Area::Students).await.expect("remove"));
    assert!(
        !cache
            .remove("oak", Area::Students)
            .await
            .expect("remove again")
    );

    let now = SystemTime::now();
    assert_eq!(
        cache.get("oak", Area::Students, now).await.expect("get"),
        None
    );
    let staff = cache.get("oak", Area::Staff, now).await.expect("get");
    assert_eq!(staff.as_deref(), Some(&b"[]"[..]));
}

#[tokio::test]
async fn an_entry_and_a_message_sealed_before_packing_open_as_they_were() {
    // Entries and outbox bodies written by a version that sealed JSON as it was.
    let Fixture { cache, _dir, .. } = fixture().await;
    let state = cache.state();
    let key = cache.data_key("oak").await.expect("data key");
    let sealed = key
        .seal(PUPILS, &entry_aad("oak", Area::Students))
        .expect("sealed");
    cache
        .put("oak", Area::Staff, b"[]", 0, in_days(30))
        .await
        .expect("put");
    store_raw(state, "oak", Area::Students, &sealed).await;
    let read = cache
        .get("oak", Area::Students, SystemTime::now())
        .await
        .expect("get");
    assert_eq!(read.as_deref(), Some(PUPILS));

    let body = br#"{"type":"records","batch":"b-1"}"#;
    let sealed = key.seal(body, &message_aad("oak", "b-1")).expect("sealed");
    let stored = [sealed.nonce, sealed.bytes].concat();
    let opened = cache
        .open_message("oak", "b-1", &stored)
        .await
        .expect("opens");
    assert_eq!(opened, body);

    // And what is written now opens to the same bytes, stored in fewer.
    let stored = cache
        .seal_message("oak", "b-2", &body.repeat(100))
        .await
        .expect("sealed");
    assert!(stored.len() < body.len() * 10);
    let opened = cache
        .open_message("oak", "b-2", &stored)
        .await
        .expect("opens");
    assert_eq!(opened, body.repeat(100));
}
