//! Crypto-shredding a school and refusing the wrong master key.

use super::*;

#[tokio::test]
async fn shredded_school_cannot_be_recovered_from_an_old_copy() {
    let Fixture {
        cache, _dir: dir, ..
    } = fixture().await;
    let state = cache.state();
    cache
        .put("oak", Area::Students, PUPILS, 1, in_days(30))
        .await
        .expect("put");
    cache
        .put("elm", Area::Students, b"[]", 0, in_days(30))
        .await
        .expect("put");

    // A copy of the database taken before shredding, as a backup or an attacker might hold.
    state.checkpoint().await.expect("checkpoint");
    let copy_dir = dir.path().join("copy");
    std::fs::create_dir(&copy_dir).expect("copy folder");
    std::fs::copy(
        state.database_path().expect("a SQLite file"),
        copy_dir.join("state.db"),
    )
    .expect("copy database");
    let copy = State::open(&copy_dir).await.expect("open copy");
    let old_wrapped = copy
        .wrapped_key("oak")
        .await
        .expect("read")
        .expect("key in copy");
    let old_entry = copy
        .entry("oak", Area::Students)
        .await
        .expect("read")
        .expect("entry in copy");
    let old_key = MasterKey::from_bytes(&[7; 32])
        .secret()
        .open(&old_wrapped, &key_aad("oak"))
        .map(Zeroizing::new)
        .expect("the copy's key unwraps");

    assert!(cache.shred_school("oak").await.expect("shred"));

    // The live state holds no trace of the old key, wrapped or not, nor of the entry.
    let live = disk_bytes(state);
    assert!(
        !contains(&live, &old_wrapped.bytes),
        "wrapped key left on disk"
    );
    assert!(!contains(&live, &old_key), "data key left on disk");
    assert!(
        !contains(&live, &old_entry.sealed.bytes),
        "ciphertext left on disk"
    );
    assert!(cache.entries("oak").await.expect("entries").is_empty());

    // Restoring the copied ciphertext into the live state does not bring the data back.
    cache
        .put("oak", Area::Staff, b"[]", 0, in_days(30))
        .await
        .expect("new key for oak");
    store_raw(state, "oak", Area::Students, &old_entry.sealed).await;
    let error = cache
        .get("oak", Area::Students, SystemTime::now())
        .await
        .expect_err("shredded");
    assert!(matches!(error, CacheError::Corrupt { .. }));

    let other = cache
        .get("elm", Area::Students, SystemTime::now())
        .await
        .expect("get");
    assert_eq!(other.as_deref(), Some(&b"[]"[..]));
}

#[tokio::test]
async fn wrong_master_key_is_refused_naming_the_state_folder() {
    let Fixture {
        cache,
        state_dir,
        _dir,
    } = fixture_with(&[7; 32]).await;
    cache
        .put("oak", Area::Students, PUPILS, 1, in_days(30))
        .await
        .expect("put");
    cache.state().close().await;

    let error = open_cache(&state_dir, &[8; 32])
        .await
        .expect_err("another key");

    assert!(matches!(error, CacheError::WrongMasterKey { .. }));
    assert!(error.to_string().contains(&state_dir.display().to_string()));
}

#[tokio::test]
async fn wrong_master_key_is_refused_even_without_the_check_row() {
    let Fixture {
        cache,
        state_dir,
        _dir,
    } = fixture().await;
    cache
        .put("oak", Area::Students, PUPILS, 1, in_days(30))
        .await
        .expect("put");
    cache
        .state()
        .execute_sql("DELETE FROM master_key_check")
        .await
        .expect("lose the check row");
    cache.state().close().await;

    let error = open_cache(&state_dir, &[8; 32])
        .await
        .expect_err("another key");

    assert!(matches!(error, CacheError::WrongMasterKey { .. }));
    let reopened = open_cache(&state_dir, &[7; 32]).await.expect("right key");
    let read = reopened
        .get("oak", Area::Students, SystemTime::now())
        .await
        .expect("get");
    assert_eq!(read.as_deref(), Some(PUPILS));
}

#[tokio::test]
async fn data_key_copied_to_another_school_is_refused_and_shredded() {
    let Fixture { cache, _dir, .. } = fixture().await;
    let state = cache.state();
    cache
        .put("oak", Area::Students, PUPILS, 1, in_days(30))
        .await
        .expect("put");
    let oak_key = state
        .wrapped_key("oak")
        .await
        .expect("read")
        .expect("oak has a key");
    state
        .insert_wrapped_key("ash", &oak_key, 0)
        .await
        .expect("copy the key row");

    let error = cache
        .put("ash", Area::Students, PUPILS, 1, in_days(30))
        .await
        .expect_err("copied key");

    assert!(matches!(error, CacheError::CorruptKey { ref school } if school == "ash"));
    assert!(state.wrapped_key("ash").await.expect("read").is_none());
    cache
        .put("ash", Area::Students, PUPILS, 1, in_days(30))
        .await
        .expect("a fresh key after shredding");
}

#[tokio::test]
async fn a_replica_with_another_master_key_is_refused_naming_the_shared_database() {
    use crate::state::tests::{Backend, Scratch};
    let scratch = Scratch::new(Backend::Postgres);
    let first = Cache::new(scratch.open().await, MasterKey::from_bytes(&[7; 32]))
        .await
        .expect("first replica");
    first
        .put("oak", Area::Students, PUPILS, 1, in_days(30))
        .await
        .expect("put");

    // A second replica whose key was generated in its own state folder.
    let error = Cache::new(scratch.open().await, MasterKey::from_bytes(&[8; 32]))
        .await
        .expect_err("another key");

    assert!(matches!(error, CacheError::WrongMasterKey { .. }));
    let database = scratch.database.as_ref().expect("a database");
    let message = error.to_string();
    assert!(message.contains(&database.name), "{message}");
    assert!(
        message.contains("every replica needs the same one"),
        "{message}"
    );
}

#[tokio::test]
async fn shredding_on_postgres_erases_the_school_and_vacuums_its_tables() {
    use crate::state::tests::{Backend, Scratch, count};
    let scratch = Scratch::new(Backend::Postgres);
    let state = scratch.open().await;
    let cache = Cache::new(state.clone(), MasterKey::from_bytes(&[7; 32]))
        .await
        .expect("cache");
    cache
        .put("oak", Area::Students, PUPILS, 1, in_days(30))
        .await
        .expect("put");

    assert!(cache.shred_school("oak").await.expect("shred"));

    let read = cache
        .get("oak", Area::Students, SystemTime::now())
        .await
        .expect("get");
    assert_eq!(read, None);
    assert_eq!(count(&state, "SELECT COUNT(*) FROM cache_entries").await, 0);
    let vacuumed = count(
        &state,
        "SELECT COUNT(*) FROM pg_stat_user_tables WHERE last_vacuum IS NOT NULL \
         AND relname IN ('school_keys', 'cache_entries')",
    )
    .await;
    assert_eq!(vacuumed, 2, "both tables are vacuumed after shredding");
}
