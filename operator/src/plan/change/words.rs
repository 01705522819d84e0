//! How each piece of a change plan is put in words, for both renderings: agreements'
//! headings and terms, partners and where they keep data, flows, fields, people and
//! notices.

use super::{
    AgreementChange, ChangeKind, FieldRef, Flow, Notice, PartnerChange, PartnerView, SchoolChange,
    Standing, Stopping,
};
use crate::delivery::wire::DeletionReason;
use crate::resources::{DataLocation, ObjectKey};

pub(super) fn heading(agreement: &AgreementChange) -> String {
    let kind = match agreement.kind {
        ChangeKind::Added => "added",
        ChangeKind::Removed => "removed",
        ChangeKind::Changed => "changed",
        ChangeKind::Affected => "affected",
        ChangeKind::Started => "starts",
        ChangeKind::Stopped => "stops",
        ChangeKind::Paused => "paused",
        ChangeKind::Resumed => "resumes",
        ChangeKind::Unchanged => "unchanged",
    };
    format!("{}: {kind}", agreement.agreement)
}

/// The agreement's standing, terms changed, and partner.
pub(super) fn terms(agreement: &AgreementChange) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(line) = standing_line(&agreement.before, &agreement.after) {
        lines.push(line);
    }
    if !agreement.spec_changes.is_empty() {
        let keys: Vec<String> = agreement
            .spec_changes
            .iter()
            .map(|k| format!("`{k}`"))
            .collect();
        lines.push(format!("Terms changed: {}.", keys.join(", ")));
    }
    match (&agreement.partner_before, &agreement.partner_after) {
        (Some(b), Some(a)) if b.name != a.name => lines.push(format!(
            "Partner changes from {} to {}: {} is told to delete everything.",
            partner(b),
            partner(a),
            b.name
        )),
        (Some(b), Some(a)) if b.location != a.location => lines.push(format!(
            "Partner {} moves its data from {} to {}.",
            a.name,
            location(b.location.as_ref()),
            partner_place(a)
        )),
        (_, Some(p)) | (Some(p), None) => lines.push(format!("Partner {}.", partner(p))),
        (None, None) => {}
    }
    lines
}

fn standing_line(before: &Standing, after: &Standing) -> Option<String> {
    match (before, after) {
        (_, Standing::Stopped { reason }) if before.holds() => {
            Some(format!("Its flows stop: {reason}."))
        }
        (Standing::Absent, Standing::Stopped { reason }) => {
            Some(format!("Not in effect: {reason}."))
        }
        (_, Standing::Paused { reason }) if !matches!(before, Standing::Paused { .. }) => {
            Some(format!("Paused: {reason}; partners keep what they hold."))
        }
        (Standing::Stopped { reason }, _) if after.holds() => {
            Some(format!("Takes effect; before, {reason}."))
        }
        _ => None,
    }
}

fn partner(view: &PartnerView) -> String {
    format!("{} ({})", view.name, partner_place(view))
}

fn partner_place(view: &PartnerView) -> String {
    let place = location(view.location.as_ref());
    if view.outside_uk_eea {
        format!("{place}, ⚠️ outside the UK/EEA")
    } else {
        place
    }
}

fn location(location: Option<&DataLocation>) -> String {
    match location {
        Some(DataLocation {
            country,
            region: Some(region),
        }) => format!("{}, {region}", country.0),
        Some(DataLocation {
            country,
            region: None,
        }) => country.0.clone(),
        None => "not declared".to_owned(),
    }
}

pub(super) fn partner_line(change: &PartnerChange) -> String {
    let warning = if change.leaves_uk_eea {
        "⚠️ the data leaves the UK/EEA, so transfers need safeguards; "
    } else {
        ""
    };
    let agreements = if change.agreements.is_empty() {
        "no agreements".to_owned()
    } else {
        format!("agreements: {}", change.agreements.join(", "))
    };
    format!(
        "Partner {} moves its data from {} to {}: {warning}{agreements}.",
        change.partner,
        location(Some(&change.before)),
        location(Some(&change.after))
    )
}

pub(super) fn flow(school: &SchoolChange) -> String {
    let flow = flow_words(school);
    // Said only where the counts cannot show it: unknown, or no one on the roll concerned.
    let counted = school.people_start.is_some_and(|n| n > 0)
        || school.people_stop.is_some_and(|s| s.total > 0);
    if school.consent_changed && !counted {
        format!("{flow}; consent changes")
    } else {
        flow
    }
}

fn flow_words(school: &SchoolChange) -> String {
    let word = |flow: Flow| match flow {
        Flow::Flowing => "flowing",
        Flow::Paused => "paused",
    };
    match (school.before, school.after) {
        (None, Some(_)) => "starts".to_owned(),
        (Some(_), None) => "ends".to_owned(),
        (Some(b), Some(a)) if b != a => format!("{} → {}", word(b), word(a)),
        (_, Some(a)) => word(a).to_owned(),
        (None, None) => "none".to_owned(),
    }
}

pub(super) fn school_lines(school: &SchoolChange) -> Vec<String> {
    let mut lines = Vec::new();
    if !school.fields_gained.is_empty() {
        lines.push(format!("gains {}", fields_cell(&school.fields_gained)));
    }
    if !school.fields_lost.is_empty() {
        lines.push(format!("loses {}", fields_cell(&school.fields_lost)));
    }
    lines.push(format!(
        "people: {} start; {} stop",
        count(school.people_start),
        stop_cell(school.people_stop.as_ref())
    ));
    for notice in &school.notices {
        lines.push(format!("deletion notice: {}", notice_words(notice)));
    }
    lines
}

/// Fields grouped by area, e.g. ``students: `email`, `upn`; demographics: `senStatus`
/// (special category)``.
pub(super) fn fields_cell(fields: &[FieldRef]) -> String {
    if fields.is_empty() {
        return "—".to_owned();
    }
    let mut groups: Vec<(crate::catalogue::Area, Vec<String>)> = Vec::new();
    for field in fields {
        let name = if field.special {
            format!("`{}` (special category)", field.name)
        } else {
            format!("`{}`", field.name)
        };
        match groups.last_mut() {
            Some((area, names)) if *area == field.area => names.push(name),
            _ => groups.push((field.area, vec![name])),
        }
    }
    let groups: Vec<String> = groups
        .into_iter()
        .map(|(area, names)| format!("{area}: {}", names.join(", ")))
        .collect();
    groups.join("; ")
}

pub(super) fn stop_cell(stopping: Option<&Stopping>) -> String {
    let Some(stopping) = stopping else {
        return "unknown".to_owned();
    };
    let reasons: Vec<(usize, &str)> = [
        (stopping.excluded, "excluded"),
        (stopping.not_opted_in, "not opted in"),
        (stopping.erased, "erased"),
        (stopping.ended, "flow ends"),
        (stopping.contacts, "contacts of those"),
        (stopping.withdrawn, "areas withdrawn"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .collect();
    let why: Vec<String> = match reasons.as_slice() {
        [(_, why)] => vec![(*why).to_owned()],
        many => many.iter().map(|(n, why)| format!("{n} {why}")).collect(),
    };
    if why.is_empty() {
        stopping.total.to_string()
    } else {
        format!("{} ({})", stopping.total, why.join(", "))
    }
}

pub(super) fn notices_cell(notices: &[Notice]) -> String {
    if notices.is_empty() {
        return "—".to_owned();
    }
    let words: Vec<String> = notices.iter().map(notice_words).collect();
    words.join("; ")
}

fn notice_words(notice: &Notice) -> String {
    let who = notice.people.map_or("people unknown".to_owned(), people);
    match (notice.reason, &notice.field, notice.area) {
        (DeletionReason::FieldsWithdrawn, Some(field), _) => format!("remove `{field}` ({who})"),
        (DeletionReason::AreaWithdrawn, _, Some(area)) => format!("delete `{area}` ({who})"),
        (DeletionReason::NoLongerShared, _, _) => format!("delete {who}"),
        _ => format!("delete everything ({who})"),
    }
}

pub(super) fn count(n: Option<usize>) -> String {
    n.map_or("unknown".to_owned(), |n| n.to_string())
}

pub(super) fn people(n: usize) -> String {
    format!("{n} {}", plural(n, "person", "people"))
}

pub(super) fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

pub(super) fn names(keys: &[ObjectKey]) -> String {
    let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
    names.join(", ")
}
