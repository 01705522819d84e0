//! A change plan in words: `text` for a terminal, `markdown` for a pull request comment.
//!
//! Both print counts, field names and resource names only: the plan holds nothing else.

use std::fmt::Write as _;

use super::words::{
    count, fields_cell, flow, heading, names, notices_cell, partner_line, people, plural,
    school_lines, stop_cell, terms,
};
use super::{AgreementChange, ChangeKind, ChangePlan, SchoolChange};

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
