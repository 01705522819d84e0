//! When a school's MIS is next read.

use k8s_openapi::jiff::{SignedDuration, Timestamp, ToSpan, civil::Time, tz::TimeZone};

use crate::resources::{Duration, Refresh};

/// The default time of the daily read, UTC: after the school day's changes, before the next.
pub const DEFAULT_DAILY_AT: &str = "02:00";

/// When the next scheduled read is due after a read at `last`; `None` for never read, which
/// is due at once.
///
/// A daily read is due at the first `dailyAt` after the last read; an `every` read is due
/// that long after it. A malformed schedule (which validation refuses) falls back to daily.
pub fn next_refresh(refresh: Option<&Refresh>, last: Option<Timestamp>) -> Option<Timestamp> {
    let last = last?;
    if let Some(every) = refresh.and_then(|r| r.every.as_deref())
        && let Ok(every) = Duration::parse(every)
    {
        let step = SignedDuration::from_secs(i64::try_from(every.as_secs()).unwrap_or(i64::MAX));
        return last.checked_add(step).ok();
    }
    let at = refresh
        .and_then(|r| r.daily_at.as_deref())
        .unwrap_or(DEFAULT_DAILY_AT);
    let time: Time = format!("{at}:00").parse().unwrap_or(Time::midnight());
    let zoned = last.to_zoned(TimeZone::UTC);
    let same_day = zoned
        .date()
        .to_datetime(time)
        .to_zoned(TimeZone::UTC)
        .ok()?;
    let next = if same_day.timestamp() > last {
        same_day
    } else {
        same_day.checked_add(1.day()).ok()?
    };
    Some(next.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn daily(at: &str) -> Refresh {
        Refresh {
            daily_at: Some(at.into()),
            every: None,
        }
    }

    #[test]
    fn never_read_is_due_at_once() {
        assert_eq!(next_refresh(None, None), None);
    }

    #[test]
    fn daily_read_is_due_at_the_next_set_time() {
        let refresh = daily("02:30");
        assert_eq!(
            next_refresh(Some(&refresh), Some(at("2026-12-03T01:00:00Z"))),
            Some(at("2026-12-03T02:30:00Z"))
        );
        assert_eq!(
            next_refresh(Some(&refresh), Some(at("2026-12-03T02:30:00Z"))),
            Some(at("2026-12-04T02:30:00Z"))
        );
        assert_eq!(
            next_refresh(Some(&refresh), Some(at("2026-12-03T15:00:00Z"))),
            Some(at("2026-12-04T02:30:00Z"))
        );
    }

    #[test]
    fn default_is_daily_at_two() {
        assert_eq!(
            next_refresh(None, Some(at("2026-12-03T15:00:00Z"))),
            Some(at("2026-12-04T02:00:00Z"))
        );
    }

    #[test]
    fn every_counts_from_the_last_read() {
        let refresh = Refresh {
            daily_at: None,
            every: Some("6h".into()),
        };
        assert_eq!(
            next_refresh(Some(&refresh), Some(at("2026-12-03T15:00:00Z"))),
            Some(at("2026-12-03T21:00:00Z"))
        );
    }
}
