//! Every resource's status, from the plan and what actually happened. Pure: the caller
//! reads the previous status and the cache's figures, and writes the result.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::push::Hold;
use crate::catalogue::Area;
use crate::ledger::summary::{AgreementFlows, PersonAtPartner};
use crate::plan::{AgreementPlan, Effect, SchoolPlan, Temperature};
use crate::resources::status::{reasons, set_condition, types};
use crate::resources::{
    AreaStatus, DataSharingAgreementStatus, ErasureRequest, ErasureRequestStatus, PartnerErasure,
    School, SchoolStatus,
};
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

/// What delivery did for an agreement, for its status.
#[derive(Clone, Debug, Default)]
pub struct DeliveryObservation {
    /// What the ledger says flowed.
    pub flows: AgreementFlows,
    /// Why deliveries are held up, if they are.
    pub hold: Option<Hold>,
    /// Messages still waiting to be delivered.
    pub pending: u64,
}

/// An agreement's status.
pub fn agreement_status(
    previous: Option<DataSharingAgreementStatus>,
    generation: Option<i64>,
    plan: &AgreementPlan,
    changed_since_signed: &[String],
    delivery: &DeliveryObservation,
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
        Verification::Mismatch { key_id } if !changed_since_signed.is_empty() => (
            false,
            reasons::SIGNATURE_MISMATCH,
            format!(
                "{} changed after {key_id} signed the agreement: flows are stopped until it is signed again",
                changed_since_signed.join(", ")
            ),
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
    let (ready, reason, message) = match (&delivery.hold, ready) {
        (Some(hold), true) => (false, hold_reason(hold), hold.to_string()),
        _ => (ready, reason, message),
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
    let stalled = delivery.hold.as_ref().filter(|_| plan.in_effect());
    set_condition(
        &mut status.conditions,
        types::STALLED,
        Some(stalled.is_some()),
        stalled.map_or(reasons::CONVERGED, hold_reason),
        stalled.map(ToString::to_string).unwrap_or_default(),
        generation,
        now,
    );
    let waiting = delivery.pending > 0 && plan.in_effect();
    set_condition(
        &mut status.conditions,
        types::RECONCILING,
        Some(waiting),
        if waiting {
            reasons::PROGRESSING
        } else {
            reasons::CONVERGED
        },
        if waiting {
            format!("{} message(s) waiting for the partner", delivery.pending)
        } else {
            String::new()
        },
        generation,
        now,
    );

    let flows = &delivery.flows;
    status.people_shared = Some(i64::try_from(flows.people_count()).unwrap_or(i64::MAX));
    status.last_delivery_time = flows
        .last_delivery
        .as_deref()
        .and_then(|t| t.parse().ok())
        .map(Time);
    status.fields_shared = flows.fields.iter().cloned().collect();
    status.bytes_sent = Some(i64::try_from(flows.bytes).unwrap_or(i64::MAX));
    status.observed_generation = generation;
    status.schools = Some(i64::try_from(plan.schools.len()).unwrap_or(i64::MAX));
    status.last_applied_revision = revisions.applied.clone();
    status.last_attempted_revision = revisions.attempted.clone();
    status
}

fn hold_reason(hold: &Hold) -> &'static str {
    match hold {
        Hold::Refused { .. } => reasons::DELIVERY_REFUSED,
        Hold::Unreachable { .. } => reasons::PARTNER_UNREACHABLE,
        Hold::Misconfigured { .. } => reasons::DELIVERY_MISCONFIGURED,
    }
}

/// An erasure request's status: each partner that received the person under an agreement
/// in scope, when it was told to delete and when it confirmed. `Ready` once the cache no
/// longer holds the person and every such partner has acknowledged.
pub fn erasure_status(
    previous: Option<ErasureRequestStatus>,
    erasure: &ErasureRequest,
    flows: &[PersonAtPartner],
    in_cache: bool,
    now: Timestamp,
) -> ErasureRequestStatus {
    let mut status = previous.unwrap_or_default();
    let generation = erasure.metadata.generation;
    let in_scope = |agreement: &str| {
        erasure.spec.agreements.is_empty()
            || agreement
                .split_once('/')
                .is_some_and(|(_, name)| erasure.spec.agreements.iter().any(|a| a == name))
    };
    let partners: Vec<&PersonAtPartner> = flows.iter().filter(|f| in_scope(&f.agreement)).collect();
    let time = |t: &Option<String>| t.as_deref().and_then(|t| t.parse().ok()).map(Time);
    status.partners = partners
        .iter()
        .map(|f| PartnerErasure {
            partner: format!("{} ({})", f.partner, f.agreement),
            notified_at: time(&f.notified_at),
            acknowledged_at: time(&f.acknowledged_at),
        })
        .collect();
    let notified = partners.iter().filter(|f| f.notified_at.is_some()).count();
    let acknowledged = partners
        .iter()
        .filter(|f| f.acknowledged_at.is_some())
        .count();
    status.partners_notified = Some(notified as i64);
    status.partners_acknowledged = Some(acknowledged as i64);

    let waiting = partners.len() - acknowledged;
    let (ready, reason, message) = if in_cache {
        (
            false,
            reasons::PROGRESSING,
            "the person is still in the cache; erased on this school's next pass".to_owned(),
        )
    } else if waiting > 0 {
        (
            false,
            reasons::AWAITING_ACKNOWLEDGEMENT,
            format!(
                "{waiting} of {} partner(s) have not yet confirmed the deletion",
                partners.len()
            ),
        )
    } else if partners.is_empty() {
        (
            true,
            reasons::ERASED,
            "erased from the cache; no partner had received this person".to_owned(),
        )
    } else {
        (
            true,
            reasons::ERASED,
            format!("erased from the cache and confirmed deleted by {acknowledged} partner(s)"),
        )
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
    status
}
