//! Every resource's status, from the plan and what actually happened. Pure: the caller
//! reads the previous status and the cache's figures, and writes the result.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use crate::catalogue::Area;
use crate::plan::{AgreementPlan, Effect, SchoolPlan, Temperature};
use crate::resources::status::{reasons, set_condition, types};
use crate::resources::{AreaStatus, DataSharingAgreementStatus, School, SchoolStatus};
use crate::signing::Verification;

/// What the cache holds for one area of a school.
#[derive(Clone, Copy, Debug)]
pub struct CachedArea {
    /// The area.
    pub area: Area,
    /// Records in the entry.
    pub records: u64,
    /// When the entry expires.
    pub expires_at: Timestamp,
}

/// What is known of a school after this pass.
#[derive(Clone, Debug, Default)]
pub struct SchoolObservation {
    /// When the MIS was last read successfully.
    pub last_extraction: Option<Timestamp>,
    /// The fields that read took, as `area.field`.
    pub extracted_fields: Vec<String>,
    /// Why the last attempt failed, when it did.
    pub error: Option<String>,
    /// The cache's entries.
    pub cached: Vec<CachedArea>,
}

/// Revisions of the declaration, for status.
#[derive(Clone, Debug, Default)]
pub struct Revisions {
    /// The commit last applied.
    pub applied: Option<String>,
    /// The commit last tried.
    pub attempted: Option<String>,
}

/// A school's status.
pub fn school_status(
    previous: Option<SchoolStatus>,
    school: &School,
    plan: &SchoolPlan,
    seen: &SchoolObservation,
    revisions: &Revisions,
    now: Timestamp,
) -> SchoolStatus {
    let mut status = previous.unwrap_or_default();
    let generation = school.metadata.generation;
    let suspended = school.spec.suspend;
    let people: u64 = seen
        .cached
        .iter()
        .filter(|c| matches!(c.area, Area::Students | Area::Staff | Area::Contacts))
        .map(|c| c.records)
        .sum();

    let (ready, reason, message) = if suspended {
        (
            Some(false),
            reasons::SUSPENDED,
            "spec.suspend is true: nothing is read or sent".to_owned(),
        )
    } else if let Some(error) = &seen.error {
        (
            Some(false),
            reasons::EXTRACTION_FAILED,
            format!("{error}; the last good cache stays in use"),
        )
    } else if plan.authorised.areas().next().is_none() {
        (
            Some(true),
            reasons::NOTHING_AUTHORISED,
            "no agreement in effect covers this school".to_owned(),
        )
    } else {
        (
            Some(true),
            reasons::CONVERGED,
            format!("{people} people cached from the last read"),
        )
    };
    set_condition(
        &mut status.conditions,
        types::READY,
        ready,
        reason,
        message,
        generation,
        now,
    );
    let stalled = seen.error.is_some();
    set_condition(
        &mut status.conditions,
        types::STALLED,
        Some(stalled),
        if stalled {
            reasons::EXTRACTION_FAILED
        } else {
            reasons::CONVERGED
        },
        if stalled {
            "the MIS read fails; see Ready"
        } else {
            ""
        },
        generation,
        now,
    );

    status.observed_generation = generation;
    status.people = Some(i64::try_from(people).unwrap_or(i64::MAX));
    status.cache_refreshed_at = seen.last_extraction.map(Time);
    status.next_refresh_at =
        crate::plan::next_refresh(school.spec.refresh.as_ref(), seen.last_extraction)
            .map(|t| t.to_string());
    status.extracted_fields = seen.extracted_fields.clone();
    status.areas = plan
        .temperature
        .iter()
        .map(|(area, temperature)| {
            let cached = seen.cached.iter().find(|c| c.area == *area);
            AreaStatus {
                area: area.to_string(),
                temperature: match temperature {
                    Temperature::Hot => "hot",
                    Temperature::Cold => "cold",
                }
                .to_owned(),
                records: cached.map(|c| i64::try_from(c.records).unwrap_or(i64::MAX)),
                expires_at: cached.map(|c| Time(c.expires_at)),
            }
        })
        .collect();
    status.last_applied_revision = revisions.applied.clone();
    status.last_attempted_revision = revisions.attempted.clone();
    status
}

/// An agreement's status.
pub fn agreement_status(
    previous: Option<DataSharingAgreementStatus>,
    generation: Option<i64>,
    plan: &AgreementPlan,
    revisions: &Revisions,
    now: Timestamp,
) -> DataSharingAgreementStatus {
    let mut status = previous.unwrap_or_default();

    let (verified, reason, message) = match &plan.verification {
        Verification::Valid { key_id } => (
            true,
            reasons::SIGNATURE_VALID,
            format!("signed by trusted key {key_id}"),
        ),
        Verification::Unsigned => (
            false,
            reasons::UNSIGNED,
            "no approval: an approver must run accord sign".to_owned(),
        ),
        Verification::UntrustedKey { key_id } => (
            false,
            reasons::UNTRUSTED_KEY,
            format!("key {key_id} is not in the keyring"),
        ),
        Verification::Malformed { key_id } => (
            false,
            reasons::SIGNATURE_MISMATCH,
            format!("the signature by {key_id} is not a valid Ed25519 signature"),
        ),
        Verification::Mismatch { key_id } => (
            false,
            reasons::SIGNATURE_MISMATCH,
            format!(
                "the spec changed after {key_id} signed it: flows are stopped until it is signed again"
            ),
        ),
    };
    set_condition(
        &mut status.conditions,
        types::VERIFIED,
        Some(verified),
        reason,
        message,
        generation,
        now,
    );

    let (ready, reason, message) = match &plan.effect {
        Effect::InEffect => (
            true,
            reasons::IN_EFFECT,
            format!("in effect for {} school(s)", plan.schools.len()),
        ),
        Effect::Unverified(_) => (
            false,
            reasons::SIGNATURE_MISMATCH,
            "not verified: see Verified".to_owned(),
        ),
        Effect::NotYetValid(from) => (
            false,
            reasons::NOT_YET_VALID,
            format!("takes effect on {from}"),
        ),
        Effect::Expired(until) => (false, reasons::EXPIRED, format!("ended on {until}")),
        Effect::Suspended => (
            false,
            reasons::SUSPENDED,
            "the agreement or its partner is suspended".to_owned(),
        ),
        Effect::MissingPartner => (
            false,
            reasons::MISSING_REFERENCE,
            "the partner is not declared".to_owned(),
        ),
    };
    let reason = match &plan.verification {
        Verification::Unsigned => reasons::UNSIGNED,
        Verification::UntrustedKey { .. } => reasons::UNTRUSTED_KEY,
        _ => reason,
    };
    set_condition(
        &mut status.conditions,
        types::READY,
        Some(ready),
        reason,
        message,
        generation,
        now,
    );

    status.observed_generation = generation;
    status.schools = Some(i64::try_from(plan.schools.len()).unwrap_or(i64::MAX));
    status.last_applied_revision = revisions.applied.clone();
    status.last_attempted_revision = revisions.attempted.clone();
    status
}
