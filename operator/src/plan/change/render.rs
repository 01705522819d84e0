//! A change plan in words: `text` for a terminal, `markdown` for a pull request comment.
//!
//! Both print counts, field names and resource names only: the plan holds nothing else.

use std::fmt::Write as _;

use super::{
    AgreementChange, ChangeKind, ChangePlan, FieldRef, Flow, Notice, PartnerChange, PartnerView,
    SchoolChange, Standing, Stopping,
};
use crate::delivery::wire::DeletionReason;
use crate::resources::DataLocation;

/// The plan for a terminal: one paragraph per agreement that changes.
pub fn text(plan: &ChangePlan) -> String {
    let mut out = String::new();
    for agreement in changed(plan) {
        let _ = writeln!(out, "{}", heading(agreement));
        for line in terms(agreement) {
            let _ = writeln!(out, "  {line}");
        }
        for school in agreement.schools.iter().filter(|s| s.changes()) {
            let _ = writeln!(out, "  {}: {}", school.school.name, flow(school));
            for line in school_lines(school) {
                let _ = writeln!(out, "    {line}");
            }
        }
        out.push('\n');
    }
    for line in closing_lines(plan) {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out, "Summary: {}.", summary_line(plan));
    out
}

/// The plan as a pull request comment: a heading, the summary, then a table per agreement
/// that changes.
pub fn markdown(plan: &ChangePlan) -> String {
    let mut out = String::from("## Accord plan\n\n");
    let _ = writeln!(out, "**Summary:** {}.\n", summary_line(plan));
    for agreement in changed(plan) {
        let _ = writeln!(out, "### {}\n", heading(agreement));
        for line in terms(agreement) {
            let _ = writeln!(out, "- {line}");
        }
        let schools: Vec<&SchoolChange> =
            agreement.schools.iter().filter(|s| s.changes()).collect();
        if schools.is_empty() {
            out.push_str("- No change to what flows.\n\n");
            continue;
        }
        out.push_str(
            "\n| School | Flow | Fields gained | Fields lost | Start | Stop | Deletion notices |\n\
             |---|---|---|---|---:|---:|---|\n",
        );
        for school in schools {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                school.school.name,
                flow(school),
                fields_cell(&school.fields_gained),
                fields_cell(&school.fields_lost),
                count(school.people_start),
                stop_cell(school.people_stop.as_ref()),
                notices_cell(&school.notices),
            );
        }
        out.push('\n');
    }
    for line in closing_lines(plan) {
        let _ = writeln!(out, "{line}\n");
    }
    out
}

/// The summary in one line, e.g. `2 agreements change: 1 gains fields; 4 people stop being
/// shared; 3 deletion notices`.
fn summary_line(plan: &ChangePlan) -> String {
    let summary = &plan.summary;
    if summary.no_change() && plan.partners.is_empty() {
        return "no change to any flow".to_owned();
    }
    let n = summary.agreements_changed;
    let mut line = format!(
        "{n} {} {}",
        plural(n, "agreement", "agreements"),
        plural(n, "changes", "change")
    );
    let mut kinds = Vec::new();
    if summary.gain_fields > 0 {
        let g = summary.gain_fields;
        kinds.push(format!("{g} {} fields", plural(g, "gains", "gain")));
    }
    if summary.lose_fields > 0 {
        let l = summary.lose_fields;
        kinds.push(format!("{l} {} fields", plural(l, "loses", "lose")));
    }
    if !kinds.is_empty() {
        let _ = write!(line, ": {}", kinds.join(", "));
    }
    if summary.people_start > 0 {
        let _ = write!(
            line,
            "; {} start being shared",
            people(summary.people_start)
        );
    }
    let _ = write!(line, "; {} stop being shared", people(summary.people_stop));
    let d = summary.deletion_notices;
    let _ = write!(line, "; {d} deletion {}", plural(d, "notice", "notices"));
    if !plan.people_unknown.is_empty() {
        let u = plan.people_unknown.len();
        let _ = write!(
            line,
            "; people unknown at {u} {}",
            plural(u, "school", "schools")
        );
    }
    line
}

fn changed(plan: &ChangePlan) -> impl Iterator<Item = &AgreementChange> {
    plan.agreements
        .iter()
        .filter(|a| a.kind != ChangeKind::Unchanged)
}

/// Lines after the agreements: partners that move, schools added or removed, schools
/// whose people are unknown, and the agreements that do not change.
fn closing_lines(plan: &ChangePlan) -> Vec<String> {
    let mut lines: Vec<String> = plan.partners.iter().map(partner_line).collect();
    if !plan.schools_added.is_empty() {
        lines.push(format!("Schools added: {}.", names(&plan.schools_added)));
    }
    if !plan.schools_removed.is_empty() {
        lines.push(format!(
            "Schools removed: {}; their cached data is destroyed.",
            names(&plan.schools_removed)
        ));
    }
    if !plan.people_unknown.is_empty() {
        lines.push(format!(
            "People unknown at {}: nothing is cached and there is no local MIS export to \
             read, so people there are not counted.",
            names(&plan.people_unknown)
        ));
    }
    let unchanged: Vec<&str> = plan
        .agreements
        .iter()
        .filter(|a| a.kind == ChangeKind::Unchanged)
        .map(|a| a.agreement.name.as_str())
        .collect();
    if !unchanged.is_empty() {
        lines.push(format!("Unchanged: {}.", unchanged.join(", ")));
    }
    lines
}

fn heading(agreement: &AgreementChange) -> String {
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
fn terms(agreement: &AgreementChange) -> Vec<String> {
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

fn partner_line(change: &PartnerChange) -> String {
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

fn flow(school: &SchoolChange) -> String {
    let flow = flow_words(school);
    if school.consent_changed {
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

fn school_lines(school: &SchoolChange) -> Vec<String> {
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
fn fields_cell(fields: &[FieldRef]) -> String {
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

fn stop_cell(stopping: Option<&Stopping>) -> String {
    let Some(stopping) = stopping else {
        return "unknown".to_owned();
    };
    let reasons: Vec<(usize, &str)> = [
        (stopping.excluded, "excluded"),
        (stopping.not_opted_in, "not opted in"),
        (stopping.erased, "erased"),
        (stopping.ended, "flow ends"),
        (stopping.other, "other"),
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

fn notices_cell(notices: &[Notice]) -> String {
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

fn count(n: Option<usize>) -> String {
    n.map_or("unknown".to_owned(), |n| n.to_string())
}

fn people(n: usize) -> String {
    format!("{n} {}", plural(n, "person", "people"))
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

fn names(keys: &[crate::resources::ObjectKey]) -> String {
    let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
    names.join(", ")
}
