//! Consent controls: excluding or including one person for a feed produces the
//! ConsentRule YAML the Trust commits to its git repository, and the diff against what is
//! declared now. [`change`] is pure; [`find_declared`] and [`write`] are the IO at the
//! edge, used only when `accord run --portal-writes` lets the portal write into the
//! watched folder. Git stays the source of truth: the portal never applies a rule itself.

use std::path::{Path, PathBuf};

use kube::ResourceExt;
use serde::Serialize;

use crate::resources::{ConsentRuleSpec, ConsentScope, ObjectKey, ResourceSet};

/// What to do for the person.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Stop sharing them: add to `exclude` (and drop from `include`).
    Exclude,
    /// Share them: drop from `exclude` and add to `include` (which opt-in feeds need).
    Include,
}

/// Which feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Feed {
    /// One agreement, by name.
    Agreement(String),
    /// Every agreement covering the school.
    All,
}

/// A consent change asked for in the portal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The school.
    pub school: ObjectKey,
    /// The person's MIS sourcedId.
    pub subject: String,
    /// The feed.
    pub feed: Feed,
    /// Exclude or include.
    pub action: Action,
}

/// The ConsentRule to commit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// The rule's name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// The file it belongs in, relative to the Trust's folder.
    pub file: String,
    /// Whether a rule with this name is declared now.
    pub existing: bool,
    /// The YAML to commit.
    pub yaml: String,
    /// The unified diff from what is declared now; empty when nothing changes.
    pub diff: String,
}

/// Why a consent change cannot be produced.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConsentError {
    /// The school is not declared.
    #[error("no such school")]
    NoSchool,
    /// The agreement does not cover the school.
    #[error("agreement {0} does not cover this school")]
    NoAgreement(String),
    /// The sourcedId cannot go into a ConsentRule.
    #[error("a sourcedId is 1 to 255 letters, digits, '.', '_', ':' or '-'")]
    BadSubject,
}

/// The rule that makes `request` so, from the declared resources. `declared_text` is the
/// text of the file declaring the rule now, when known, so its comments are kept and the
/// diff is against the file as it is in git.
pub fn change(
    resources: &ResourceSet,
    request: &Request,
    declared_text: Option<&str>,
) -> Result<Change, ConsentError> {
    let valid = !request.subject.is_empty()
        && request.subject.len() <= 255
        && request
            .subject
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._:-".contains(c));
    if !valid {
        return Err(ConsentError::BadSubject);
    }
    let school = resources
        .school(&request.school)
        .ok_or(ConsentError::NoSchool)?;
    let scope = match &request.feed {
        Feed::Agreement(name) => {
            let covers = resources.agreements.iter().any(|a| {
                a.name_any() == *name
                    && a.namespace() == school.namespace()
                    && a.spec.schools.includes(school)
            });
            if !covers {
                return Err(ConsentError::NoAgreement(name.clone()));
            }
            ConsentScope {
                agreements: Some(vec![name.clone()]),
                ..ConsentScope::default()
            }
        }
        Feed::All => ConsentScope {
            all: Some(true),
            ..ConsentScope::default()
        },
    };

    let existing = resources.consent_rules.iter().find(|rule| {
        rule.namespace().as_deref() == Some(request.school.namespace.as_str())
            && rule.spec.school == request.school.name
            && rule.spec.scope == scope
    });
    let name = existing.map_or_else(|| new_name(request), ResourceExt::name_any);
    let mut spec = existing.map_or_else(
        || ConsentRuleSpec {
            school: request.school.name.clone(),
            scope: scope.clone(),
            include: Vec::new(),
            exclude: Vec::new(),
        },
        |rule| rule.spec.clone(),
    );
    apply(&mut spec, &request.subject, request.action);

    let before = match (existing, declared_text) {
        (Some(_), Some(text)) => text.to_owned(),
        (Some(rule), None) => render(&name, &request.school.namespace, &rule.spec, ""),
        (None, _) => String::new(),
    };
    let comments = leading_comments(&before);
    let yaml = render(&name, &request.school.namespace, &spec, &comments);
    let file = format!("consent/{name}.yaml");
    let diff = if before == yaml {
        String::new()
    } else {
        similar::TextDiff::from_lines(&before, &yaml)
            .unified_diff()
            .context_radius(3)
            .header(
                &if existing.is_some() {
                    format!("a/{file}")
                } else {
                    "/dev/null".to_owned()
                },
                &format!("b/{file}"),
            )
            .to_string()
    };
    Ok(Change {
        name,
        namespace: request.school.namespace.clone(),
        file,
        existing: existing.is_some(),
        yaml,
        diff,
    })
}

fn apply(spec: &mut ConsentRuleSpec, subject: &str, action: Action) {
    let (add, remove) = match action {
        Action::Exclude => (&mut spec.exclude, &mut spec.include),
        Action::Include => (&mut spec.include, &mut spec.exclude),
    };
    remove.retain(|s| s.as_str() != subject);
    if !add.iter().any(|s| s.as_str() == subject) {
        add.push(subject.to_owned());
    }
}

fn new_name(request: &Request) -> String {
    let name = match &request.feed {
        Feed::Agreement(agreement) => format!("{agreement}-{}", request.school.name),
        Feed::All => format!("{}-all-feeds", request.school.name),
    };
    let mut name: String = name.chars().take(63).collect();
    while name.ends_with('-') {
        name.pop();
    }
    name
}

fn leading_comments(text: &str) -> String {
    text.lines()
        .take_while(|l| l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// The rule as YAML, in the order a person writes it.
fn render(name: &str, namespace: &str, spec: &ConsentRuleSpec, comments: &str) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Document<'a> {
        api_version: &'a str,
        kind: &'a str,
        metadata: Metadata<'a>,
        spec: &'a ConsentRuleSpec,
    }
    #[derive(Serialize)]
    struct Metadata<'a> {
        name: &'a str,
        namespace: &'a str,
    }
    let document = Document {
        api_version: "accord.dev/v1alpha1",
        kind: "ConsentRule",
        metadata: Metadata { name, namespace },
        spec,
    };
    let body = serde_yaml::to_string(&document).unwrap_or_default();
    format!("{comments}{}", indent_lists(&body))
}

/// serde_yaml writes list items flush with their key; a Trust's files indent them.
fn indent_lists(yaml: &str) -> String {
    let mut out = String::with_capacity(yaml.len() + 64);
    let mut in_list_of: Option<usize> = None;
    for line in yaml.lines() {
        let depth = line.len() - line.trim_start().len();
        if line.trim_start().starts_with("- ") && in_list_of == Some(depth) {
            out.push_str("  ");
        } else if line.trim_end().ends_with(':') {
            in_list_of = Some(depth);
        } else {
            in_list_of = None;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The file under `base` declaring this rule, with its text, if it declares nothing else.
pub fn find_declared(base: &Path, namespace: &str, name: &str) -> Option<(PathBuf, String)> {
    let mut stack = vec![base.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            if hidden {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let yaml = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
            if !yaml {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            if declares_only(&text, namespace, name) {
                return Some((path, text));
            }
        }
    }
    None
}

fn declares_only(text: &str, namespace: &str, name: &str) -> bool {
    let documents: Vec<serde_yaml::Value> = serde_yaml::Deserializer::from_str(text)
        .filter_map(|d| serde::Deserialize::deserialize(d).ok())
        .filter(|v: &serde_yaml::Value| !v.is_null())
        .collect();
    let [document] = documents.as_slice() else {
        return false;
    };
    document["kind"] == "ConsentRule"
        && document["metadata"]["name"] == name
        && document["metadata"]["namespace"] == namespace
}

/// Why the portal could not write a rule.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The rule is declared in a file that also declares other things.
    #[error("consent rule {0} is declared in a file with other resources; commit the YAML by hand")]
    Shared(String),
    /// The file cannot be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Writes the rule into the watched folder: over the file declaring it, or as a new file.
/// Returns the file written.
pub fn write(base: &Path, change: &Change) -> Result<PathBuf, WriteError> {
    let path = match find_declared(base, &change.namespace, &change.name) {
        Some((path, _)) => path,
        None if change.existing => return Err(WriteError::Shared(change.name.clone())),
        None => base.join(&change.file),
    };
    let io = |source| WriteError::Io {
        path: path.display().to_string(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    // Written beside and renamed, so the watcher never reads half a file.
    let partial = path.with_extension("yaml.partial");
    std::fs::write(&partial, &change.yaml).map_err(io)?;
    std::fs::rename(&partial, &path).map_err(io)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::portal::fixtures::Trust;
    use crate::resources::ConsentRule;

    fn resources() -> ResourceSet {
        Trust::default()
            .school("ashby", "GB")
            .agreement("homework", "hub", &["ashby"])
            .excluding("homework-ashby", "ashby", "homework", &["stu-1"])
            .0
    }

    fn request(subject: &str, feed: Feed, action: Action) -> Request {
        Request {
            school: ObjectKey::new("t", "ashby"),
            subject: subject.into(),
            feed,
            action,
        }
    }

    #[test]
    fn excluding_a_person_adds_them_to_the_declared_rule_and_the_diff_says_only_that() {
        let declared = "# Paper homework only.\n".to_owned()
            + &render(
                "homework-ashby",
                "t",
                &resources().consent_rules[0].spec,
                "",
            );
        let change = change(
            &resources(),
            &request("stu-2", Feed::Agreement("homework".into()), Action::Exclude),
            Some(&declared),
        )
        .unwrap();
        assert!(change.existing);
        assert_eq!(change.name, "homework-ashby");
        assert!(change.yaml.starts_with("# Paper homework only.\n"));
        assert!(
            change
                .yaml
                .contains("  exclude:\n    - stu-1\n    - stu-2\n"),
            "{}",
            change.yaml
        );
        let added: Vec<&str> = change
            .diff
            .lines()
            .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
            .collect();
        assert_eq!(added, ["+    - stu-2"], "{}", change.diff);
        assert!(
            !change
                .diff
                .lines()
                .any(|l| l.starts_with('-') && !l.starts_with("---"))
        );
    }

    #[test]
    fn including_an_excluded_person_takes_them_out_of_exclude() {
        let change = change(
            &resources(),
            &request("stu-1", Feed::Agreement("homework".into()), Action::Include),
            None,
        )
        .unwrap();
        assert!(!change.yaml.contains("exclude"), "{}", change.yaml);
        assert!(change.yaml.contains("  include:\n    - stu-1\n"));
        let parsed: ConsentRule = serde_yaml::from_str(&change.yaml).unwrap();
        assert_eq!(parsed.spec.include.len(), 1);
    }

    #[test]
    fn a_new_feed_gets_a_new_rule_and_asking_twice_changes_nothing() {
        let change = change(
            &resources(),
            &request("stu-9", Feed::All, Action::Exclude),
            None,
        )
        .unwrap();
        assert!(!change.existing);
        assert_eq!(change.name, "ashby-all-feeds");
        assert!(
            change
                .diff
                .starts_with("--- /dev/null\n+++ b/consent/ashby-all-feeds.yaml")
        );

        let already = change_again(&request(
            "stu-1",
            Feed::Agreement("homework".into()),
            Action::Exclude,
        ));
        assert_eq!(already.diff, "");
    }

    fn change_again(request: &Request) -> Change {
        change(&resources(), request, None).unwrap()
    }

    #[test]
    fn an_uncovered_agreement_an_unknown_school_or_a_bad_id_is_refused() {
        let set = resources();
        let other = request("stu-2", Feed::Agreement("maths".into()), Action::Exclude);
        assert_eq!(
            change(&set, &other, None),
            Err(ConsentError::NoAgreement("maths".into()))
        );
        let mut elsewhere = request("stu-2", Feed::All, Action::Exclude);
        elsewhere.school = ObjectKey::new("t", "brook");
        assert_eq!(change(&set, &elsewhere, None), Err(ConsentError::NoSchool));
        let bad = request("stu 2\nkind: Secret", Feed::All, Action::Exclude);
        assert_eq!(change(&set, &bad, None), Err(ConsentError::BadSubject));
    }

    #[test]
    fn writing_replaces_the_declaring_file_or_adds_one() {
        let dir = tempfile::tempdir().unwrap();
        let set = resources();
        let declared = render("homework-ashby", "t", &set.consent_rules[0].spec, "");
        std::fs::create_dir_all(dir.path().join("rules")).unwrap();
        std::fs::write(dir.path().join("rules/paper.yaml"), &declared).unwrap();
        let found = find_declared(dir.path(), "t", "homework-ashby").unwrap();
        let edit = change(
            &set,
            &request("stu-2", Feed::Agreement("homework".into()), Action::Exclude),
            Some(&found.1),
        )
        .unwrap();
        assert_eq!(
            write(dir.path(), &edit).unwrap(),
            dir.path().join("rules/paper.yaml")
        );
        assert!(
            std::fs::read_to_string(dir.path().join("rules/paper.yaml"))
                .unwrap()
                .contains("stu-2")
        );

        let new = change(&set, &request("stu-3", Feed::All, Action::Exclude), None).unwrap();
        assert_eq!(
            write(dir.path(), &new).unwrap(),
            dir.path().join("consent/ashby-all-feeds.yaml")
        );
    }
}
