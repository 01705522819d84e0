//! How the state database stores time: INTEGER unix seconds, UTC.
//!
//! Whole seconds are enough for expiry and usage tracking, sort and compare as numbers in
//! SQL, and map to BIGINT unchanged in PostgreSQL.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since the unix epoch, negative before it, saturating at the ends of `i64`.
pub fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

/// The instant `seconds` after the unix epoch (before it when negative).
pub fn from_unix_seconds(seconds: i64) -> SystemTime {
    let magnitude = Duration::from_secs(seconds.unsigned_abs());
    let time = if seconds >= 0 {
        UNIX_EPOCH.checked_add(magnitude)
    } else {
        UNIX_EPOCH.checked_sub(magnitude)
    };

    // Only a value beyond the platform's clock range lands here; the epoch reads as long
    // past, so such an entry counts as expired rather than kept forever.
    time.unwrap_or(UNIX_EPOCH)
}
