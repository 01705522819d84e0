//! School checks: one MIS connector, one refresh schedule, a readable retention.

use super::super::declared::DeclaredSet;
use super::super::finding::Finding;
use crate::resources::Duration;

/// Reports schools whose connector or schedule cannot be acted on.
pub fn check(set: &DeclaredSet<'_>, findings: &mut Vec<Finding>) {
    for school in &set.schools {
        let spec = &school.resource.spec;
        let id = school.id();

        let mis = &spec.mis;
        let connectors = [
            mis.one_roster_csv.is_some(),
            mis.one_roster_rest.is_some(),
            mis.ctf.is_some(),
        ];
        let count = connectors.iter().filter(|c| **c).count();
        if count != 1 {
            findings.push(school.error(
                "/spec/mis",
                format!("school {id}: spec.mis sets {count} connectors: set exactly one of oneRosterCsv, oneRosterRest, ctf"),
            ));
        }

        if let Some(refresh) = &spec.refresh {
            if refresh.daily_at.is_some() && refresh.every.is_some() {
                findings.push(school.error(
                    "/spec/refresh/every",
                    format!("school {id}: refresh sets both dailyAt and every: keep one"),
                ));
            }
            if let Some(every) = &refresh.every
                && Duration::parse(every).is_ok_and(|d| d.as_secs() < 15 * 60)
            {
                findings.push(school.error(
                        "/spec/refresh/every",
                        format!("school {id}: refresh.every is shorter than 15m, which would load the MIS needlessly"),
                    ));
            }
        }

        if let Some(retention) = &spec.retention
            && Duration::parse(retention).is_ok_and(|d| d.as_secs() == 0)
        {
            findings.push(school.error(
                    "/spec/retention",
                    format!("school {id}: retention of zero would discard data before it is delivered: give e.g. 30d"),
                ));
        }

        if let Some(csv) = &mis.one_roster_csv {
            local_path_exists(
                school.doc.file.parent(),
                &csv.path,
                &id,
                "/spec/mis/oneRosterCsv/path",
                school,
                findings,
            );
        }
        if let Some(ctf) = &mis.ctf {
            local_path_exists(
                school.doc.file.parent(),
                &ctf.path,
                &id,
                "/spec/mis/ctf/path",
                school,
                findings,
            );
        }
    }
}

// A missing bundle is a warning: in a Trust's repo the MIS export usually lives on the
// server that runs Accord, not in git.
fn local_path_exists<T>(
    base: Option<&std::path::Path>,
    path: &str,
    id: &str,
    pointer: &str,
    school: &super::super::declared::Declared<'_, T>,
    findings: &mut Vec<Finding>,
) {
    let full = base.map_or_else(|| std::path::PathBuf::from(path), |b| b.join(path));
    if !full.exists() {
        findings.push(school.warning(
            pointer,
            format!(
                "school {id}: {} does not exist here; it must exist where Accord runs",
                full.display()
            ),
        ));
    }
}
