//! Who an agreement reaches at one school: the fields it shares there and the people whose
//! records carry them, counted the way delivery sends them (see `crate::delivery`).
//!
//! Pupils are those consent allows; staff are shared whole, as delivery sends them; a
//! contact is shared while one of their pupils is. Everything is by sourcedId and stays
//! inside the planning core: only counts leave it.

use std::collections::{BTreeMap, BTreeSet};

use kube::ResourceExt;

use crate::catalogue::Area;
use crate::delivery::audience;
use crate::resources::{ConsentMode, DataSharingAgreement, ObjectKey, ResourceSet};

use super::FieldRef;

/// Who is on one school's roll, by MIS sourcedId. A part is `None` when it could not be
/// read, and then nothing that depends on it is counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Roll {
    /// Pupils.
    pub pupils: Option<BTreeSet<String>>,
    /// Staff.
    pub staff: Option<BTreeSet<String>>,
    /// Contacts, each with the pupils they are a contact for.
    pub contacts: Option<BTreeMap<String, BTreeSet<String>>>,
}

impl Roll {
    /// This roll, with the parts it lacks taken from `other`.
    pub fn or(self, other: Roll) -> Roll {
        Roll {
            pupils: self.pupils.or(other.pupils),
            staff: self.staff.or(other.staff),
            contacts: self.contacts.or(other.contacts),
        }
    }

    /// Whether every part is known.
    pub fn is_complete(&self) -> bool {
        self.pupils.is_some() && self.staff.is_some() && self.contacts.is_some()
    }

    /// Whether any part is known.
    pub fn is_known(&self) -> bool {
        self.pupils.is_some() || self.staff.is_some() || self.contacts.is_some()
    }
}

/// Why consent keeps a pupil on the roll from an agreement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Withheld {
    /// A consent rule excludes them.
    Excluded,
    /// The agreement is opt-in and no rule includes them.
    NotOptedIn,
    /// An erasure request names them.
    Erased,
}

/// What a partner holds, or may hold, under one agreement at one school.
#[derive(Clone, Debug)]
pub(super) struct Hold {
    /// The agreement or the school is suspended: nothing new is sent, nothing is deleted.
    pub paused: bool,
    /// The fields shared, besides `sourcedId`.
    pub fields: BTreeSet<FieldRef>,
    /// Per shared area, the people whose records it sends; `None` when the roll is unknown.
    pub people: Option<BTreeMap<Area, BTreeSet<String>>>,
    /// Pupils on the roll that consent or erasure keeps back, and why.
    pub withheld: BTreeMap<String, Withheld>,
    /// Everyone a consent rule or erasure request names at the school, and whether they
    /// may be shared; compared across the change, it shows a change of consent even when
    /// the roll is unknown.
    pub named: BTreeMap<String, bool>,
    /// Whether someone no rule names may be shared (opt-out).
    pub unnamed_allowed: bool,
}

impl Hold {
    /// Whether consent lets `sourced_id` be shared, for someone a rule names or not.
    pub fn consents(&self, sourced_id: &str) -> bool {
        self.named
            .get(sourced_id)
            .copied()
            .unwrap_or(self.unnamed_allowed)
    }

    /// The areas shared.
    pub fn areas(&self) -> BTreeSet<Area> {
        self.fields.iter().map(|f| f.area).collect()
    }

    /// Everyone whose data is shared, whatever the area.
    pub fn everyone(&self) -> Option<BTreeSet<&str>> {
        let people = self.people.as_ref()?;
        Some(people.values().flatten().map(String::as_str).collect())
    }

    /// How many people hold records of `area`.
    pub fn holders(&self, area: Area) -> Option<usize> {
        let people = self.people.as_ref()?;
        Some(people.get(&area).map_or(0, BTreeSet::len))
    }
}

/// What `agreement` shares at `school` under `declared`, with the school's roll.
pub(super) fn hold(
    agreement: &DataSharingAgreement,
    school: &ObjectKey,
    declared: &ResourceSet,
    roll: Option<&Roll>,
    paused: bool,
) -> Hold {
    let fields: BTreeSet<FieldRef> = agreement
        .spec
        .data
        .0
        .iter()
        .flat_map(|(area, names)| names.iter().map(|name| FieldRef::new(*area, name)))
        .collect();
    let areas: BTreeSet<Area> = fields.iter().map(|f| f.area).collect();

    let pupils = roll.and_then(|r| r.pupils.as_ref());
    let withheld = pupils
        .map(|pupils| withheld(agreement, school, declared, pupils))
        .unwrap_or_default();
    let people = roll.and_then(|roll| {
        areas
            .iter()
            .map(|area| Some((*area, holders(*area, roll, &withheld)?)))
            .collect::<Option<BTreeMap<_, _>>>()
    });

    Hold {
        paused,
        fields,
        people,
        withheld,
        named: named(agreement, school, declared),
        unnamed_allowed: agreement.spec.consent == ConsentMode::OptOut,
    }
}

/// The people whose records of `area` delivery would send, as `project_area` selects them.
fn holders(
    area: Area,
    roll: &Roll,
    withheld: &BTreeMap<String, Withheld>,
) -> Option<BTreeSet<String>> {
    let allowed = || -> Option<BTreeSet<String>> {
        let pupils = roll.pupils.as_ref()?;
        Some(
            pupils
                .iter()
                .filter(|p| !withheld.contains_key(*p))
                .cloned()
                .collect(),
        )
    };
    match area {
        Area::Students | Area::Demographics | Area::Attendance => allowed(),
        Area::Staff => roll.staff.clone(),
        // Limitation: counted from the roll, not from the enrollments the MIS holds.
        Area::Enrollments => {
            let mut people = allowed()?;
            people.extend(roll.staff.clone()?);
            Some(people)
        }
        Area::Contacts => {
            let allowed = allowed()?;
            let contacts = roll.contacts.as_ref()?;
            Some(
                contacts
                    .iter()
                    .filter(|(_, pupils)| pupils.iter().any(|p| allowed.contains(p)))
                    .map(|(contact, _)| contact.clone())
                    .collect(),
            )
        }
        Area::Classes => Some(BTreeSet::new()),
    }
}

/// Whether each person named by a consent rule or an erasure request at `school` may be
/// shared under `agreement`.
fn named(
    agreement: &DataSharingAgreement,
    school: &ObjectKey,
    declared: &ResourceSet,
) -> BTreeMap<String, bool> {
    let here = |namespace: Option<String>, name: &str| {
        namespace.as_deref().unwrap_or("default") == school.namespace && name == school.name
    };
    let mut ids: BTreeSet<&str> = BTreeSet::new();
    for rule in &declared.consent_rules {
        if here(rule.namespace(), &rule.spec.school) {
            ids.extend(
                rule.spec
                    .include
                    .iter()
                    .chain(&rule.spec.exclude)
                    .map(String::as_str),
            );
        }
    }
    for erasure in &declared.erasures {
        if here(erasure.namespace(), &erasure.spec.school) {
            ids.insert(&erasure.spec.sourced_id);
        }
    }
    let rules = &declared.consent_rules;
    let audience = audience(
        agreement,
        school,
        rules,
        &declared.erasures,
        ids.iter().copied(),
    );
    ids.into_iter()
        .map(|id| (id.to_owned(), audience.allows(id)))
        .collect()
}

/// The pupils consent keeps back, each with the first reason that holds: an erasure, an
/// exclusion, then a missing opt-in. Each reason is asked of `audience` itself, so the
/// plan and delivery can never disagree on who is shared.
fn withheld(
    agreement: &DataSharingAgreement,
    school: &ObjectKey,
    declared: &ResourceSet,
    pupils: &BTreeSet<String>,
) -> BTreeMap<String, Withheld> {
    let roll = || pupils.iter().map(String::as_str);
    let rules = &declared.consent_rules;
    let erasures = &declared.erasures;
    let withheld = audience(agreement, school, rules, erasures, roll()).withheld;
    if withheld.is_empty() {
        return BTreeMap::new();
    }

    // Under opt-out, only an erasure or an exclusion keeps anyone back.
    let mut opt_out = agreement.clone();
    opt_out.spec.consent = ConsentMode::OptOut;
    let erased = audience(&opt_out, school, &[], erasures, roll()).withheld;
    let excluded = audience(&opt_out, school, rules, &[], roll()).withheld;

    withheld
        .into_iter()
        .map(|pupil| {
            let why = if erased.contains(&pupil) {
                Withheld::Erased
            } else if excluded.contains(&pupil) {
                Withheld::Excluded
            } else {
                Withheld::NotOptedIn
            };
            (pupil, why)
        })
        .collect()
}
