//! Per school: the authorised fields, which areas are kept warm, and whether to read now.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::ResourceExt;

use super::agreements::AgreementPlan;
use super::schedule::next_refresh;
use super::{REFRESH_REQUESTED_AT, SchoolFacts};
use crate::catalogue::Area;
use crate::mis::FieldSet;
use crate::resources::{DeliveryMode, Duration, ObjectKey, ResourceSet, School};

/// How long a school's cache entries live unless it says otherwise.
pub const DEFAULT_RETENTION: &str = "30d";

/// Whether an authorised area is kept in the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Temperature {
    /// Used by a push delivery or pulled recently: read on schedule and kept.
    Hot,
    /// Authorised, but nobody has used it lately: read only when asked, and not kept.
    Cold,
}

/// Why the MIS is read now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExtractReason {
    /// Never read before.
    FirstExtraction,
    /// The refresh annotation changed.
    Requested,
    /// The authorised fields changed since the last read.
    FieldsChanged,
    /// A warm area has no servable cache entry (expired, corrupt or never filled).
    CacheMissing(Area),
    /// The schedule says so.
    Scheduled,
}

/// What to do for one school.
#[derive(Clone, Debug)]
pub struct SchoolPlan {
    /// The school.
    pub key: ObjectKey,
    /// Every field that agreements in effect authorise for the school.
    pub authorised: FieldSet,
    /// The authorised fields of warm areas: what a read takes and the cache keeps.
    pub extract_fields: FieldSet,
    /// Each authorised area's temperature.
    pub temperature: BTreeMap<Area, Temperature>,
    /// Whether to read the MIS now, and why.
    pub extract: Option<ExtractReason>,
    /// Cache entries to erase: expired, cold, or no longer authorised.
    pub drop: BTreeSet<Area>,
    /// When the next scheduled read is due, once the school has been read.
    pub next_refresh: Option<Timestamp>,
    /// How long entries written now may live.
    pub retention: Duration,
    /// The agreements in effect that cover the school.
    pub agreements: Vec<ObjectKey>,
}

/// Plans one school.
pub fn school_plan(
    school: &School,
    agreements: &[AgreementPlan],
    declared: &ResourceSet,
    facts: &SchoolFacts,
    now: Timestamp,
) -> SchoolPlan {
    let key = ObjectKey::of(school);
    let spec = &school.spec;
    let retention = spec
        .retention
        .as_deref()
        .and_then(|r| Duration::parse(r).ok())
        .unwrap_or_else(|| Duration::parse(DEFAULT_RETENTION).expect("the default parses"));

    // The union of what agreements in effect authorise, and which areas pushes use.
    let covering: Vec<&AgreementPlan> = agreements
        .iter()
        .filter(|a| a.in_effect() && a.schools.contains(&key))
        .collect();
    let mut authorised = FieldSet::new();
    let mut pushed = BTreeSet::new();
    for plan in &covering {
        let Some(agreement) = declared
            .agreements
            .iter()
            .find(|a| ObjectKey::of(*a) == plan.key)
        else {
            continue;
        };
        for (area, fields) in &agreement.spec.data.0 {
            for field in fields {
                // Validation refuses non-catalogue names; one that slips through is not read.
                let _ = authorised.insert(*area, field);
            }
            if agreement.spec.delivery.mode == DeliveryMode::Push {
                pushed.insert(*area);
            }
        }
    }

    // An area is warm while a push uses it or a pull used it within the retention.
    let window = SignedDuration::from_secs(i64::try_from(retention.as_secs()).unwrap_or(i64::MAX));
    let temperature: BTreeMap<Area, Temperature> = authorised
        .areas()
        .map(|area| {
            let pulled = facts
                .cache
                .get(&area)
                .and_then(|e| e.last_used_at)
                .is_some_and(|used| now.duration_since(used) <= window);
            (
                area,
                if pushed.contains(&area) || pulled {
                    Temperature::Hot
                } else {
                    Temperature::Cold
                },
            )
        })
        .collect();
    let mut extract_fields = FieldSet::new();
    for (area, _) in temperature.iter().filter(|(_, t)| **t == Temperature::Hot) {
        for field in authorised.fields(*area) {
            let _ = extract_fields.insert(*area, field);
        }
    }

    let drop = facts
        .cache
        .iter()
        .filter(|(area, entry)| entry.expires_at <= now || !extract_fields.has_area(**area))
        .map(|(area, _)| *area)
        .collect();

    let next = next_refresh(spec.refresh.as_ref(), facts.last_extraction);
    let extract = if spec.suspend || extract_fields.areas().next().is_none() {
        None
    } else {
        extract_reason(school, facts, &extract_fields, next, now)
    };

    SchoolPlan {
        key,
        authorised,
        extract_fields,
        temperature,
        extract,
        drop,
        next_refresh: next,
        retention,
        agreements: covering.iter().map(|a| a.key.clone()).collect(),
    }
}

fn extract_reason(
    school: &School,
    facts: &SchoolFacts,
    fields: &FieldSet,
    next: Option<Timestamp>,
    now: Timestamp,
) -> Option<ExtractReason> {
    if facts.last_extraction.is_none() {
        return Some(ExtractReason::FirstExtraction);
    }
    let requested = school.annotations().get(REFRESH_REQUESTED_AT);
    if requested.is_some() && requested != facts.refresh_handled.as_ref() {
        return Some(ExtractReason::Requested);
    }
    if *fields != facts.extracted_fields {
        return Some(ExtractReason::FieldsChanged);
    }
    if let Some(area) = fields
        .areas()
        .find(|area| facts.cache.get(area).is_none_or(|e| e.expires_at <= now))
    {
        return Some(ExtractReason::CacheMissing(area));
    }
    if next.is_some_and(|next| now >= next) {
        return Some(ExtractReason::Scheduled);
    }
    None
}
