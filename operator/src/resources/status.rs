//! Status conditions, shaped by the Kubernetes API conventions.
//!
//! Every kind reports `observedGeneration` and a list of conditions keyed by `type`.
//! `Ready` is the summary on every kind, so `kubectl wait --for=condition=Ready` works.
//! Condition types and reasons are constants here, never literals elsewhere.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

/// Condition types.
pub mod types {
    /// The summary: the resource is doing what it declares.
    pub const READY: &str = "Ready";
    /// An agreement carries a valid approver signature from the trusted keyring.
    pub const VERIFIED: &str = "Verified";
    /// The controller is working towards the declared state.
    pub const RECONCILING: &str = "Reconciling";
    /// The controller cannot make progress without a change to the resource.
    pub const STALLED: &str = "Stalled";
}

/// Condition reasons, CamelCase as the conventions ask.
pub mod reasons {
    /// Everything declared has converged.
    pub const CONVERGED: &str = "Converged";
    /// The resource failed validation.
    pub const INVALID: &str = "Invalid";
    /// The signature matches the spec and a trusted key.
    pub const SIGNATURE_VALID: &str = "SignatureValid";
    /// The agreement has no signature.
    pub const UNSIGNED: &str = "Unsigned";
    /// The signature does not match the spec: the spec changed after signing.
    pub const SIGNATURE_MISMATCH: &str = "SignatureMismatch";
    /// The signing key is not in the trusted keyring.
    pub const UNTRUSTED_KEY: &str = "UntrustedKey";
    /// The resource is suspended by `spec.suspend`.
    pub const SUSPENDED: &str = "Suspended";
    /// The agreement's validity window has not started.
    pub const NOT_YET_VALID: &str = "NotYetValid";
    /// The agreement's validity window has ended.
    pub const EXPIRED: &str = "Expired";
    /// A referenced resource does not exist.
    pub const MISSING_REFERENCE: &str = "MissingReference";
    /// Work is in progress.
    pub const PROGRESSING: &str = "Progressing";
    /// The school's MIS could not be read; the last good cache stays in use.
    pub const EXTRACTION_FAILED: &str = "ExtractionFailed";
    /// A Job is reading the school's MIS.
    pub const EXTRACTION_RUNNING: &str = "ExtractionRunning";
    /// No agreement in effect authorises any of the school's data.
    pub const NOTHING_AUTHORISED: &str = "NothingAuthorised";
    /// The agreement is signed, within its window and not suspended.
    pub const IN_EFFECT: &str = "InEffect";
    /// The agreement's partner is suspended.
    pub const PARTNER_SUSPENDED: &str = "PartnerSuspended";
    /// The partner refused a delivery.
    pub const DELIVERY_REFUSED: &str = "DeliveryRefused";
    /// The partner could not be reached.
    pub const PARTNER_UNREACHABLE: &str = "PartnerUnreachable";
    /// The partner's endpoint, CA or secret cannot be used.
    pub const DELIVERY_MISCONFIGURED: &str = "DeliveryMisconfigured";
    /// Some partner has not confirmed a deletion yet.
    pub const AWAITING_ACKNOWLEDGEMENT: &str = "AwaitingAcknowledgement";
    /// The person is erased everywhere they were.
    pub const ERASED: &str = "Erased";
    /// The work this resource asks for is not carried out by this build.
    pub const NOT_SUPPORTED: &str = "NotSupported";
}

/// `True`, `False` or `Unknown`, as condition `status` is written.
pub fn status_word(value: Option<bool>) -> &'static str {
    match value {
        Some(true) => "True",
        Some(false) => "False",
        None => "Unknown",
    }
}

/// Sets one condition in `conditions`, keeping its `lastTransitionTime` unless its status
/// changed, so the time says when the state last moved rather than when it was last seen.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: Option<bool>,
    reason: &str,
    message: impl Into<String>,
    generation: Option<i64>,
    now: Timestamp,
) {
    let status = status_word(status);
    let message = message.into();

    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(existing) => {
            if existing.status != status {
                existing.last_transition_time = Time(now);
            }
            existing.status = status.to_owned();
            existing.reason = reason.to_owned();
            existing.message = message;
            existing.observed_generation = generation;
        }
        None => conditions.push(Condition {
            type_: type_.to_owned(),
            status: status.to_owned(),
            reason: reason.to_owned(),
            message,
            observed_generation: generation,
            last_transition_time: Time(now),
        }),
    }
}

/// Finds a condition by type.
pub fn condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).unwrap()
    }

    #[test]
    fn transition_time_moves_only_when_status_changes() {
        let mut conditions = Vec::new();
        set_condition(
            &mut conditions,
            types::READY,
            Some(true),
            reasons::CONVERGED,
            "ok",
            Some(1),
            at(10),
        );
        set_condition(
            &mut conditions,
            types::READY,
            Some(true),
            reasons::CONVERGED,
            "still",
            Some(2),
            at(20),
        );
        assert_eq!(conditions[0].last_transition_time, Time(at(10)));
        assert_eq!(conditions[0].message, "still");
        assert_eq!(conditions[0].observed_generation, Some(2));

        set_condition(
            &mut conditions,
            types::READY,
            Some(false),
            reasons::INVALID,
            "bad",
            Some(3),
            at(30),
        );
        assert_eq!(conditions[0].last_transition_time, Time(at(30)));
        assert_eq!(conditions.len(), 1);
    }
}
