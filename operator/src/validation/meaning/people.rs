//! No YAML names a person: consent rules and erasure requests list MIS sourcedIds only.
//!
//! The schema already refuses spaces and `@`. These checks catch what still looks like a
//! name (`Alice`, `alice.smith`). Messages say where, never what: repeating the value
//! would copy the personal data into CI logs.

use std::collections::HashSet;

use super::super::declared::DeclaredSet;
use super::super::finding::Finding;

/// Reports identifiers that look like names, and lists that repeat or contradict.
pub fn check(set: &DeclaredSet<'_>, findings: &mut Vec<Finding>) {
    for rule in &set.consent_rules {
        let spec = &rule.resource.spec;
        let id = rule.id();
        for (list, values) in [("include", &spec.include), ("exclude", &spec.exclude)] {
            let mut seen = HashSet::new();
            for (i, value) in values.iter().enumerate() {
                let pointer = format!("/spec/{list}/{i}");
                if looks_like_a_name(value) {
                    findings.push(rule.error(
                        &pointer,
                        refused(&format!("consent rule {id}: {list}[{i}]")),
                    ));
                }
                if !seen.insert(value) {
                    findings.push(rule.warning(
                        &pointer,
                        format!(
                            "consent rule {id}: {list}[{i}] repeats an earlier entry: remove it"
                        ),
                    ));
                }
            }
        }
        let excluded: HashSet<_> = spec.exclude.iter().collect();
        for (i, value) in spec.include.iter().enumerate() {
            if excluded.contains(value) {
                findings.push(rule.warning(
                    &format!("/spec/include/{i}"),
                    format!("consent rule {id}: include[{i}] is also excluded, and exclusion wins: remove one"),
                ));
            }
        }
    }

    for erasure in &set.erasures {
        if looks_like_a_name(&erasure.resource.spec.sourced_id) {
            findings.push(erasure.error(
                "/spec/sourcedId",
                refused(&format!("erasure request {}: sourcedId", erasure.id())),
            ));
        }
    }
}

fn refused(place: &str) -> String {
    format!(
        "{place} looks like a person's name, not a MIS sourcedId: YAML in git names people by sourcedId only; look the sourcedId up in the MIS"
    )
}

/// A capitalised word (`Alice`, `Smith-Jones`) or letters-only words joined by `.` or `_`
/// (`alice.smith`): shapes of names that sourcedIds do not take.
pub fn looks_like_a_name(value: &str) -> bool {
    let capitalised_word = |word: &str| {
        let mut chars = word.chars();
        chars.next().is_some_and(|c| c.is_ascii_uppercase())
            && word.len() >= 2
            && chars.all(|c| c.is_ascii_lowercase())
    };
    if value.split('-').all(capitalised_word) {
        return true;
    }
    let parts: Vec<&str> = value.split(['.', '_']).collect();
    parts.len() >= 2
        && parts
            .iter()
            .all(|p| p.len() >= 2 && p.chars().all(|c| c.is_ascii_alphabetic()))
}

#[cfg(test)]
mod tests {
    use super::looks_like_a_name;

    #[test]
    fn names_are_recognised_and_identifiers_are_not() {
        for name in ["Alice", "Smith-Jones", "alice.smith", "Mary_Jones"] {
            assert!(looks_like_a_name(name), "{name}");
        }
        for id in [
            "stu-000123",
            "usr-222-66778899",
            "8f14e45f-ceea-4e7a",
            "A123",
            "STU",
        ] {
            assert!(!looks_like_a_name(id), "{id}");
        }
    }
}
