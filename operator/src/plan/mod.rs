//! The planning core: from what a Trust declared and what the controller has observed, what
//! should happen next. Pure functions, no IO, so every decision is tested without a server.
//!
//! The plan says, per agreement, whether it is in effect and why not; per school, which
//! fields agreements authorise, which areas are kept warm in the cache, whether to read the
//! MIS now and why, which cache entries to drop, and when the next scheduled read is due;
//! and which schools' keys to destroy because the school is no longer declared.
//!
//! [`change`] compares two declarations instead: what a change would do to every flow.

mod agreements;
pub mod change;
mod schedule;
mod schools;

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::jiff::Timestamp;

pub use agreements::{AgreementPlan, Effect, agreement_plans};
pub use change::{ChangePlan, Roll, plan_change};
pub use schedule::next_refresh;
pub use schools::{ExtractReason, SchoolPlan, Temperature};

use crate::catalogue::Area;
use crate::mis::FieldSet;
use crate::resources::{ObjectKey, ResourceSet};
use crate::signing::Keyring;

/// The annotation that asks for a read of a school's MIS now; its value is a timestamp.
pub const REFRESH_REQUESTED_AT: &str = "accord.dev/refresh-requested-at";

/// What the controller has observed, as the planner needs it.
#[derive(Clone, Debug)]
pub struct Facts {
    /// The time the plan is made for.
    pub now: Timestamp,
    /// Per declared or remembered school.
    pub schools: BTreeMap<ObjectKey, SchoolFacts>,
}

/// What is known of one school from earlier runs.
#[derive(Clone, Debug, Default)]
pub struct SchoolFacts {
    /// When the MIS was last read successfully.
    pub last_extraction: Option<Timestamp>,
    /// The fields that read took.
    pub extracted_fields: FieldSet,
    /// The value of the refresh annotation last acted on.
    pub refresh_handled: Option<String>,
    /// The cache entries that exist, by area.
    pub cache: BTreeMap<Area, EntryFacts>,
}

/// One cache entry's times.
#[derive(Clone, Copy, Debug)]
pub struct EntryFacts {
    /// When the entry stops being servable.
    pub expires_at: Timestamp,
    /// When a delivery or a partner pull last used it.
    pub last_used_at: Option<Timestamp>,
}

/// What should happen next.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Every declared agreement.
    pub agreements: Vec<AgreementPlan>,
    /// Every declared school.
    pub schools: Vec<SchoolPlan>,
    /// Schools the controller holds keys for but that are no longer declared: their keys are
    /// destroyed, and with them every cached byte.
    pub shred: BTreeSet<ObjectKey>,
}

/// Makes the plan.
pub fn plan(declared: &ResourceSet, keyring: &Keyring, facts: &Facts) -> Plan {
    let agreements = agreement_plans(declared, keyring, facts.now);
    let schools = declared
        .schools
        .iter()
        .map(|school| {
            let key = ObjectKey::of(school);
            let seen = facts.schools.get(&key).cloned().unwrap_or_default();
            schools::school_plan(school, &agreements, declared, &seen, facts.now)
        })
        .collect();

    let declared_keys: BTreeSet<ObjectKey> = declared.schools.iter().map(ObjectKey::of).collect();
    let shred = facts
        .schools
        .keys()
        .filter(|k| !declared_keys.contains(k))
        .cloned()
        .collect();

    Plan {
        agreements,
        schools,
        shred,
    }
}

#[cfg(test)]
mod tests;
