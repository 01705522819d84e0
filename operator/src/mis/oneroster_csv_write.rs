//! Writing a sample school as a OneRoster 1.1 CSV bundle folder, with the UK extension
//! columns the readers map (`metadata.uk.upn`, `metadata.uk.preferredName` on users;
//! `metadata.uk.ethnicity`, `metadata.uk.senStatus`, `metadata.uk.firstLanguage` on
//! demographics). Year groups are written to `grades` as national curriculum years.

use std::fs::{self, File};
use std::io;
use std::path::Path;

use crate::mis::sample::SampleSchool;

/// The `dateLastModified` every written row carries, so output does not depend on the
/// clock.
const MODIFIED: &str = "2024-09-01T00:00:00.000Z";

/// A failure to write an export.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// A file could not be created or written.
    #[error("{file}: cannot be written ({source}); check that the folder exists and is writable")]
    Io {
        /// The file.
        file: String,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
}

/// Writes `school` into `dir` (created if missing) as a OneRoster 1.1 bulk bundle.
pub fn write_oneroster_bundle(school: &SampleSchool, dir: &Path) -> Result<(), WriteError> {
    fs::create_dir_all(dir).map_err(|source| WriteError::Io {
        file: dir.display().to_string(),
        source,
    })?;
    let files = [
        "academicSessions",
        "classes",
        "courses",
        "demographics",
        "enrollments",
        "orgs",
        "users",
    ];
    let mut manifest = vec![
        row(["propertyName", "value"]),
        row(["manifest.version", "1.0"]),
        row(["oneroster.version", "1.1"]),
    ];
    for file in files {
        manifest.push(vec![format!("file.{file}"), "bulk".to_owned()]);
    }
    for absent in [
        "categories",
        "classResources",
        "courseResources",
        "lineItems",
        "resources",
        "results",
    ] {
        manifest.push(vec![format!("file.{absent}"), "absent".to_owned()]);
    }
    manifest.push(row(["source.systemName", "Accord sample generator"]));
    write(dir, "manifest.csv", &manifest)?;

    write(dir, "orgs.csv", &orgs(school))?;
    write(dir, "academicSessions.csv", &sessions(school))?;
    write(dir, "courses.csv", &courses(school))?;
    write(dir, "classes.csv", &classes(school))?;
    write(dir, "users.csv", &users(school))?;
    write(dir, "enrollments.csv", &enrollments(school))?;
    write(dir, "demographics.csv", &demographics(school))?;
    Ok(())
}

fn row<const N: usize>(cells: [&str; N]) -> Vec<String> {
    cells.iter().map(|c| (*c).to_owned()).collect()
}

fn write(dir: &Path, name: &str, rows: &[Vec<String>]) -> Result<(), WriteError> {
    let error = |source: io::Error| WriteError::Io {
        file: name.to_owned(),
        source,
    };
    let file = File::create(dir.join(name)).map_err(error)?;
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(file);
    for cells in rows {
        out.write_record(cells).map_err(|e| error(e.into()))?;
    }
    out.flush().map_err(error)
}

fn orgs(school: &SampleSchool) -> Vec<Vec<String>> {
    vec![
        row([
            "sourcedId",
            "status",
            "dateLastModified",
            "name",
            "type",
            "identifier",
            "parentSourcedId",
        ]),
        row([
            &school.org_id,
            "active",
            MODIFIED,
            &school.info.name,
            "school",
            &school.info.urn,
            "",
        ]),
    ]
}

fn sessions(school: &SampleSchool) -> Vec<Vec<String>> {
    let mut rows = vec![row([
        "sourcedId",
        "status",
        "dateLastModified",
        "title",
        "type",
        "startDate",
        "endDate",
        "parentSourcedId",
        "schoolYear",
    ])];
    let year = (crate::mis::sample::ACADEMIC_YEAR + 1).to_string();
    for s in &school.sessions {
        let parent = s.parent_id.as_deref().unwrap_or_default();
        rows.push(row([
            &s.sourced_id,
            "active",
            MODIFIED,
            &s.title,
            s.kind,
            &s.start,
            &s.end,
            parent,
            &year,
        ]));
    }
    rows
}

fn courses(school: &SampleSchool) -> Vec<Vec<String>> {
    let mut rows = vec![row([
        "sourcedId",
        "status",
        "dateLastModified",
        "schoolYearSourcedId",
        "title",
        "courseCode",
        "grades",
        "orgSourcedId",
        "subjects",
        "subjectCodes",
    ])];
    let year_id = school
        .sessions
        .first()
        .map(|s| s.sourced_id.as_str())
        .unwrap_or_default();
    let mut seen = std::collections::BTreeSet::new();
    for class in &school.classes {
        if !seen.insert(class.course_id.as_str()) {
            continue;
        }
        let title = format!("Year {} {}", class.year_group, class.subject);
        rows.push(row([
            &class.course_id,
            "active",
            MODIFIED,
            year_id,
            &title,
            &class.course_id,
            &class.year_group,
            &school.org_id,
            class.subject,
            "",
        ]));
    }
    rows
}

fn classes(school: &SampleSchool) -> Vec<Vec<String>> {
    let mut rows = vec![row([
        "sourcedId",
        "status",
        "dateLastModified",
        "title",
        "grades",
        "courseSourcedId",
        "classCode",
        "classType",
        "location",
        "schoolSourcedId",
        "termSourcedIds",
        "subjects",
        "subjectCodes",
        "periods",
    ])];
    for c in &school.classes {
        let terms = c.term_ids.join(",");
        rows.push(row([
            &c.sourced_id,
            "active",
            MODIFIED,
            &c.title,
            &c.year_group,
            &c.course_id,
            &c.class_code,
            "scheduled",
            "",
            &school.org_id,
            &terms,
            c.subject,
            "",
            "",
        ]));
    }
    rows
}

fn users(school: &SampleSchool) -> Vec<Vec<String>> {
    let mut rows = vec![row([
        "sourcedId",
        "status",
        "dateLastModified",
        "enabledUser",
        "orgSourcedIds",
        "role",
        "username",
        "userIds",
        "givenName",
        "familyName",
        "middleName",
        "identifier",
        "email",
        "sms",
        "phone",
        "agentSourcedIds",
        "grades",
        "password",
        "metadata.uk.upn",
        "metadata.uk.preferredName",
    ])];
    let org = school.org_id.as_str();
    for p in &school.students {
        let agents = p.contact_ids.join(",");
        let middle = p.middle_name.as_deref().unwrap_or_default();
        let preferred = p.preferred_name.as_deref().unwrap_or_default();
        rows.push(row([
            &p.sourced_id,
            "active",
            MODIFIED,
            "true",
            org,
            "student",
            &p.username,
            "",
            &p.given_name,
            &p.family_name,
            middle,
            "",
            &p.email,
            "",
            "",
            &agents,
            &p.year_group,
            "",
            &p.upn,
            preferred,
        ]));
    }
    for s in &school.staff {
        let user = s.email.split('@').next().unwrap_or_default();
        rows.push(row([
            &s.sourced_id,
            "active",
            MODIFIED,
            "true",
            org,
            s.role,
            user,
            "",
            &s.given_name,
            &s.family_name,
            "",
            "",
            &s.email,
            "",
            &s.phone,
            "",
            "",
            "",
            "",
            "",
        ]));
    }
    for c in &school.contacts {
        let agents = c.student_ids.join(",");
        rows.push(row([
            &c.sourced_id,
            "active",
            MODIFIED,
            "false",
            org,
            c.relationship,
            &c.email,
            "",
            &c.given_name,
            &c.family_name,
            "",
            "",
            &c.email,
            &c.phone,
            &c.phone,
            &agents,
            "",
            "",
            "",
            "",
        ]));
    }
    rows
}

fn enrollments(school: &SampleSchool) -> Vec<Vec<String>> {
    let mut rows = vec![row([
        "sourcedId",
        "status",
        "dateLastModified",
        "classSourcedId",
        "schoolSourcedId",
        "userSourcedId",
        "role",
        "primary",
        "beginDate",
        "endDate",
    ])];
    for e in &school.enrollments {
        let primary = if e.primary { "true" } else { "false" };
        rows.push(row([
            &e.sourced_id,
            "active",
            MODIFIED,
            &e.class_id,
            &school.org_id,
            &e.user_id,
            e.role,
            primary,
            "",
            "",
        ]));
    }
    rows
}

fn demographics(school: &SampleSchool) -> Vec<Vec<String>> {
    let mut rows = vec![row([
        "sourcedId",
        "status",
        "dateLastModified",
        "birthDate",
        "sex",
        "metadata.uk.ethnicity",
        "metadata.uk.senStatus",
        "metadata.uk.firstLanguage",
    ])];
    for p in &school.students {
        rows.push(row([
            &p.sourced_id,
            "active",
            MODIFIED,
            &p.date_of_birth,
            p.sex,
            p.ethnicity,
            p.sen_status,
            p.first_language,
        ]));
    }
    rows
}
