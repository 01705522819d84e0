//! One agreement at one school, before and after: the fields and areas gained and lost,
//! who starts and stops being shared, and the deletion notices the partner would be sent.

use std::collections::BTreeSet;

use super::reach::{Hold, Withheld};
use super::{Flow, Notice, SchoolChange, Stopping};
use crate::catalogue::Area;
use crate::delivery::wire::DeletionReason;
use crate::resources::ObjectKey;

/// The change at `school`. `before` and `after` are what the partner holds on each side;
/// when the agreement's partner changes, the old partner is told to delete everything and
/// the new one starts from nothing.
pub(super) fn school_change(
    school: ObjectKey,
    before: Option<&Hold>,
    after: Option<&Hold>,
    same_partner: bool,
) -> SchoolChange {
    let continuing = match (before, after) {
        (Some(b), Some(a)) if same_partner => Some((b, a)),
        _ => None,
    };
    let base_before = continuing.map(|(b, _)| b);
    let base_after = continuing.map(|(_, a)| a);

    let fields = |hold: Option<&Hold>| hold.map(|h| h.fields.clone()).unwrap_or_default();
    let areas = |hold: Option<&Hold>| hold.map(Hold::areas).unwrap_or_default();
    let people = |hold: Option<&Hold>| hold.and_then(Hold::everyone).map(|p| p.len());

    let people_stop = stopping(before, base_after);
    let notices = match continuing {
        Some((b, a)) => withdrawals(b, a, people_stop.as_ref()),
        None => before
            .map(|b| Notice {
                reason: DeletionReason::AgreementEnded,
                area: None,
                field: None,
                people: people(Some(b)),
            })
            .into_iter()
            .collect(),
    };

    SchoolChange {
        school,
        before: before.map(flow),
        after: after.map(flow),
        fields_gained: fields(after)
            .difference(&fields(base_before))
            .cloned()
            .collect(),
        fields_lost: fields(before)
            .difference(&fields(base_after))
            .cloned()
            .collect(),
        areas_gained: areas(after)
            .difference(&areas(base_before))
            .copied()
            .collect(),
        areas_lost: areas(before)
            .difference(&areas(base_after))
            .copied()
            .collect(),
        people_before: people(before),
        people_after: people(after),
        people_start: starting(base_before, after),
        people_stop: people_stop.map(|(counts, _)| counts),
        consent_changed: continuing.is_some_and(|(b, a)| consent_differs(b, a)),
        notices,
    }
}

/// Whether anyone a consent rule or erasure request names, on either side, is consented
/// on one side and not the other.
fn consent_differs(before: &Hold, after: &Hold) -> bool {
    before
        .named
        .keys()
        .chain(after.named.keys())
        .any(|id| before.consents(id) != after.consents(id))
}

fn flow(hold: &Hold) -> Flow {
    if hold.paused {
        Flow::Paused
    } else {
        Flow::Flowing
    }
}

/// How many people are sent who were not shared before; nobody starts while paused.
fn starting(before: Option<&Hold>, after: Option<&Hold>) -> Option<usize> {
    let Some(after) = after.filter(|a| !a.paused) else {
        return Some(0);
    };
    let now = after.everyone()?;
    let Some(before) = before else {
        return Some(now.len());
    };
    let was = before.everyone()?;
    Some(now.difference(&was).count())
}

/// Who stops being shared and why, with their sourcedIds for the notices; `after` is
/// `None` when the agreement no longer shares from the school with this partner.
fn stopping<'a>(
    before: Option<&'a Hold>,
    after: Option<&'a Hold>,
) -> Option<(Stopping, BTreeSet<&'a str>)> {
    let Some(before) = before else {
        return Some((Stopping::default(), BTreeSet::new()));
    };
    let was = before.everyone()?;
    let Some(after) = after else {
        let counts = Stopping {
            total: was.len(),
            ended: was.len(),
            ..Stopping::default()
        };
        return Some((counts, was));
    };
    let now = after.everyone()?;

    let gone: BTreeSet<&str> = was.difference(&now).copied().collect();
    let mut counts = Stopping {
        total: gone.len(),
        ..Stopping::default()
    };
    // Not withheld themselves: a contact who follows their pupils, or someone whose
    // areas are all withdrawn.
    let contacts_kept = after.areas().contains(&Area::Contacts);
    let was_contact = |person: &str| {
        let contacts = before.people.as_ref().and_then(|p| p.get(&Area::Contacts));
        contacts.is_some_and(|c| c.contains(person))
    };
    for person in &gone {
        match after.withheld.get(*person) {
            Some(Withheld::Excluded) => counts.excluded += 1,
            Some(Withheld::NotOptedIn) => counts.not_opted_in += 1,
            Some(Withheld::Erased) => counts.erased += 1,
            None if contacts_kept && was_contact(person) => counts.contacts += 1,
            None => counts.withdrawn += 1,
        }
    }
    Some((counts, gone))
}

/// The notices for a flow that continues: one for the people who stop, one per area
/// withdrawn, and one per field withdrawn from an area still shared.
fn withdrawals(
    before: &Hold,
    after: &Hold,
    stopping: Option<&(Stopping, BTreeSet<&str>)>,
) -> Vec<Notice> {
    let mut notices = Vec::new();
    let (was, is) = (before.areas(), after.areas());
    let lost: BTreeSet<Area> = was.difference(&is).copied().collect();

    // People whose records were only in withdrawn areas go with those areas' notices.
    if let (Some((_, gone)), Some(people)) = (stopping, &before.people) {
        let in_kept_areas = gone
            .iter()
            .filter(|p| {
                people
                    .iter()
                    .any(|(area, holders)| !lost.contains(area) && holders.contains(**p))
            })
            .count();
        if in_kept_areas > 0 {
            notices.push(Notice {
                reason: DeletionReason::NoLongerShared,
                area: None,
                field: None,
                people: Some(in_kept_areas),
            });
        }
    }

    for area in &lost {
        notices.push(Notice {
            reason: DeletionReason::AreaWithdrawn,
            area: Some(*area),
            field: None,
            people: before.holders(*area),
        });
    }
    for field in before.fields.difference(&after.fields) {
        if lost.contains(&field.area) {
            continue;
        }
        notices.push(Notice {
            reason: DeletionReason::FieldsWithdrawn,
            area: Some(field.area),
            field: Some(field.clone()),
            people: before.holders(field.area),
        });
    }
    notices
}
