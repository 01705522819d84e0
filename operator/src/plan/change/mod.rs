//! What a change to the declaration would do to data flows, for `accord plan` to show on a
//! pull request before it is merged.
//!
//! Per agreement and school: the fields and areas gained and lost, the people who start
//! or stop being shared, and the deletion notices partners would be sent. Pure like the
//! rest of the planning core: both declarations, both keyrings, the schools' rolls and the
//! time go in, and a [`ChangePlan`] of counts comes out. It never holds a sourcedId or a
//! value from a MIS, so nothing that prints it can leak one.

mod agreement;
mod reach;
mod render;
mod school;
mod words;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use k8s_openapi::jiff::Timestamp;
use serde::{Serialize, Serializer};

pub use reach::Roll;
pub use render::{markdown, text};

use crate::catalogue::{Area, Category};
use crate::delivery::wire::DeletionReason;
use crate::resources::{DataLocation, ObjectKey, ResourceSet};
use crate::signing::Keyring;
use agreement::{Side, agreement_change, partner_changes};

/// What a change would do to every flow.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangePlan {
    /// The figures a reviewer reads first.
    pub summary: Summary,
    /// Every agreement declared before or after, by key.
    pub agreements: Vec<AgreementChange>,
    /// Partners that move where they keep data.
    pub partners: Vec<PartnerChange>,
    /// Schools declared only after.
    #[serde(serialize_with = "keys")]
    pub schools_added: Vec<ObjectKey>,
    /// Schools declared only before: their cache keys would be destroyed.
    #[serde(serialize_with = "keys")]
    pub schools_removed: Vec<ObjectKey>,
    /// Schools an agreement shares from whose roll could not be read: their people are
    /// not counted.
    #[serde(serialize_with = "keys")]
    pub people_unknown: Vec<ObjectKey>,
}

/// The change in a few numbers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Agreements whose flows or terms change.
    pub agreements_changed: usize,
    /// Agreements that share a field somewhere they did not.
    pub gain_fields: usize,
    /// Agreements that stop sharing a field somewhere.
    pub lose_fields: usize,
    /// People who start being shared, counted once per agreement and school.
    pub people_start: usize,
    /// People who stop being shared, counted once per agreement and school.
    pub people_stop: usize,
    /// Deletion notices partners would be sent.
    pub deletion_notices: usize,
}

impl Summary {
    /// Whether nothing that flows, or may flow, changes.
    pub fn no_change(&self) -> bool {
        *self == Summary::default()
    }
}

/// How one agreement changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ChangeKind {
    /// Declared only after.
    Added,
    /// Declared only before.
    Removed,
    /// Its terms change (besides its signature and `suspend`).
    Changed,
    /// Its terms stay, but who or where it shares changes: consent, erasures, the schools
    /// it selects, or where its partner keeps data.
    Affected,
    /// Not in effect before, in effect after.
    Started,
    /// In effect before, not after: its flows stop and the partner is told to delete.
    Stopped,
    /// Suspended after: nothing more is sent, and the partner keeps what it holds.
    Paused,
    /// No longer suspended.
    Resumed,
    /// Nothing changes.
    Unchanged,
}

/// Whether an agreement lets data flow, on one side of the change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum Standing {
    /// Not declared.
    Absent,
    /// In effect.
    InEffect,
    /// Suspended, unverified, or its partner undeclared: flows pause, nothing is sent and
    /// nothing is deleted.
    Paused {
        /// Why, in words.
        reason: String,
    },
    /// Not in effect: nothing flows and the partner may hold nothing.
    Stopped {
        /// Why, in words.
        reason: String,
    },
}

impl Standing {
    /// Whether the partner may hold data under the agreement (in effect or paused).
    pub fn holds(&self) -> bool {
        matches!(self, Standing::InEffect | Standing::Paused { .. })
    }
}

/// One agreement, before and after.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgreementChange {
    /// The agreement.
    #[serde(serialize_with = "key")]
    pub agreement: ObjectKey,
    /// How it changes.
    pub kind: ChangeKind,
    /// Its standing before.
    pub before: Standing,
    /// Its standing after.
    pub after: Standing,
    /// The spec's top-level keys whose value changes, e.g. `data`, `consent`.
    pub spec_changes: Vec<String>,
    /// The partner before, when declared.
    pub partner_before: Option<PartnerView>,
    /// The partner after, when declared.
    pub partner_after: Option<PartnerView>,
    /// Each school it shares from before or after.
    pub schools: Vec<SchoolChange>,
}

/// A partner as a reviewer needs to see it: who, and where it keeps data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartnerView {
    /// The partner's name.
    pub name: String,
    /// Where it keeps data, when the partner is declared.
    pub location: Option<DataLocation>,
    /// Whether that is outside the UK and the EEA, where a transfer needs safeguards.
    pub outside_uk_eea: bool,
}

/// Whether an agreement's flow at a school runs or is paused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Flow {
    /// Data is sent.
    Flowing,
    /// The agreement or school is suspended.
    Paused,
}

/// One agreement at one school, before and after.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SchoolChange {
    /// The school.
    #[serde(serialize_with = "key")]
    pub school: ObjectKey,
    /// The flow before; `None` when the agreement shared nothing here.
    pub before: Option<Flow>,
    /// The flow after.
    pub after: Option<Flow>,
    /// Fields the partner receives that it did not.
    pub fields_gained: Vec<FieldRef>,
    /// Fields the partner no longer receives.
    pub fields_lost: Vec<FieldRef>,
    /// Areas the partner receives that it did not.
    pub areas_gained: Vec<Area>,
    /// Areas the partner no longer receives.
    pub areas_lost: Vec<Area>,
    /// People shared before; `None` when the roll is unknown.
    pub people_before: Option<usize>,
    /// People shared after.
    pub people_after: Option<usize>,
    /// People who start being shared.
    pub people_start: Option<usize>,
    /// People who stop being shared, and why.
    pub people_stop: Option<Stopping>,
    /// Whether consent rules or erasure requests change who may be shared here; with the
    /// roll unknown, this is all the plan can say of it.
    pub consent_changed: bool,
    /// The deletion notices the partner would be sent for this school.
    pub notices: Vec<Notice>,
}

impl SchoolChange {
    /// Whether anything about this flow changes.
    pub fn changes(&self) -> bool {
        self.before != self.after
            || !self.fields_gained.is_empty()
            || !self.fields_lost.is_empty()
            || self.consent_changed
            || self.people_start.is_some_and(|n| n > 0)
            || self.people_stop.is_some_and(|s| s.total > 0)
            || !self.notices.is_empty()
    }
}

/// One field of one area, as `area.field`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldRef {
    /// The area.
    pub area: Area,
    /// The field's catalogue name.
    pub name: String,
    /// Whether it is special category data (GDPR Art. 9).
    pub special: bool,
}

impl FieldRef {
    /// The field `name` of `area`, marked special when the catalogue says so.
    pub fn new(area: Area, name: &str) -> FieldRef {
        let special = area
            .field(name)
            .is_some_and(|f| f.category == Category::Special);
        FieldRef {
            area,
            name: name.to_owned(),
            special,
        }
    }
}

impl fmt::Display for FieldRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.area, self.name)
    }
}

/// People who stop being shared at one school, by reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stopping {
    /// Everyone who stops.
    pub total: usize,
    /// Pupils a consent rule now excludes.
    pub excluded: usize,
    /// Pupils of an opt-in agreement no rule now includes.
    pub not_opted_in: usize,
    /// Pupils an erasure request now names.
    pub erased: usize,
    /// Everyone, because the agreement no longer shares from the school.
    pub ended: usize,
    /// Contacts all of whose pupils stop being shared.
    pub contacts: usize,
    /// Whose every area the agreement stops sharing.
    pub withdrawn: usize,
}

/// One deletion notice a partner would be sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Notice {
    /// Why the partner must delete.
    pub reason: DeletionReason,
    /// The area, for an area or a field withdrawn.
    pub area: Option<Area>,
    /// The field, for a field withdrawn.
    pub field: Option<FieldRef>,
    /// How many people's records it concerns; `None` when the roll is unknown.
    pub people: Option<usize>,
}

/// A partner that keeps data somewhere else after the change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartnerChange {
    /// The partner.
    #[serde(serialize_with = "key")]
    pub partner: ObjectKey,
    /// Where it kept data.
    pub before: DataLocation,
    /// Where it keeps data.
    pub after: DataLocation,
    /// Whether the data leaves the UK and the EEA with this change.
    pub leaves_uk_eea: bool,
    /// The agreements with it, after the change.
    pub agreements: Vec<String>,
}

/// What changing `before` into `after` would do to every flow at `now`. `rolls` has the
/// people of each school whose roll could be read; other schools' people are not counted.
///
/// Limitation: one roll serves both sides, so people who joined or left the MIS since it
/// was read are not part of the change.
pub fn plan_change(
    before: &ResourceSet,
    before_keyring: &Keyring,
    after: &ResourceSet,
    after_keyring: &Keyring,
    rolls: &BTreeMap<ObjectKey, Roll>,
    now: Timestamp,
) -> ChangePlan {
    let old = Side::new(before, before_keyring, now);
    let new = Side::new(after, after_keyring, now);

    let keys: BTreeSet<ObjectKey> = old.keys().chain(new.keys()).collect();
    let agreements: Vec<AgreementChange> = keys
        .iter()
        .map(|key| agreement_change(key, &old, &new, rolls))
        .collect();

    let school_keys = |set: &ResourceSet| -> BTreeSet<ObjectKey> {
        set.schools.iter().map(ObjectKey::of).collect()
    };
    let (was, is) = (school_keys(before), school_keys(after));
    let people_unknown = agreements
        .iter()
        .flat_map(|a| &a.schools)
        .filter(|s| s.people_before.is_none() && s.before.is_some())
        .chain(
            agreements
                .iter()
                .flat_map(|a| &a.schools)
                .filter(|s| s.people_after.is_none() && s.after.is_some()),
        )
        .map(|s| s.school.clone())
        .collect::<BTreeSet<_>>();

    ChangePlan {
        summary: summary(&agreements),
        partners: partner_changes(before, after),
        schools_added: is.difference(&was).cloned().collect(),
        schools_removed: was.difference(&is).cloned().collect(),
        people_unknown: people_unknown.into_iter().collect(),
        agreements,
    }
}

fn summary(agreements: &[AgreementChange]) -> Summary {
    let schools = || agreements.iter().flat_map(|a| &a.schools);
    Summary {
        agreements_changed: agreements
            .iter()
            .filter(|a| a.kind != ChangeKind::Unchanged)
            .count(),
        gain_fields: agreements
            .iter()
            .filter(|a| a.schools.iter().any(|s| !s.fields_gained.is_empty()))
            .count(),
        lose_fields: agreements
            .iter()
            .filter(|a| a.schools.iter().any(|s| !s.fields_lost.is_empty()))
            .count(),
        people_start: schools().filter_map(|s| s.people_start).sum(),
        people_stop: schools()
            .filter_map(|s| s.people_stop)
            .map(|s| s.total)
            .sum(),
        deletion_notices: schools().map(|s| s.notices.len()).sum(),
    }
}

fn key<S: Serializer>(key: &ObjectKey, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(key)
}

fn keys<S: Serializer>(keys: &[ObjectKey], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(keys.iter().map(ToString::to_string))
}

#[cfg(test)]
mod tests;
