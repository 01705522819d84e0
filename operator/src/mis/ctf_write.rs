//! Writing a sample school as a Common Transfer File, the shape [`crate::mis::ctf`]
//! reads: pupils with basic details, SEN, contacts and this year's attendance.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use quick_xml::escape::escape;

use crate::mis::oneroster_csv_write::WriteError;
use crate::mis::sample::{ACADEMIC_YEAR, SampleSchool};

/// Writes `school` to `path` as a CTF XML document.
pub fn write_ctf(school: &SampleSchool, path: &Path) -> Result<(), WriteError> {
    fs::write(path, ctf_document(school)).map_err(|source| WriteError::Io {
        file: path.display().to_string(),
        source,
    })
}

/// The CTF XML document for `school`.
pub fn ctf_document(school: &SampleSchool) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CTfile>\n");
    let (la, estab) = school
        .info
        .la_estab
        .split_at(school.info.la_estab.len().min(3));
    xml.push_str("  <Header>\n");
    element(&mut xml, 4, "DocumentName", "Common Transfer File");
    element(&mut xml, 4, "CTFversion", "25.0");
    element(
        &mut xml,
        4,
        "DateTime",
        &format!("{ACADEMIC_YEAR}-09-01T00:00:00"),
    );
    element(&mut xml, 4, "DocumentQualifier", "full");
    xml.push_str("    <SourceSchool>\n");
    element(&mut xml, 6, "LEA", la);
    element(&mut xml, 6, "Estab", estab);
    element(&mut xml, 6, "URN", &school.info.urn);
    element(&mut xml, 6, "SchoolName", &school.info.name);
    element(&mut xml, 6, "AcademicYear", &ACADEMIC_YEAR.to_string());
    xml.push_str("    </SourceSchool>\n  </Header>\n  <CTFpupilData>\n");

    for pupil in &school.students {
        xml.push_str("    <Pupil>\n");
        element(&mut xml, 6, "UPN", &pupil.upn);
        element(&mut xml, 6, "Surname", &pupil.family_name);
        element(&mut xml, 6, "Forename", &pupil.given_name);
        element(&mut xml, 6, "DOB", &pupil.date_of_birth);
        element(
            &mut xml,
            6,
            "Sex",
            if pupil.sex == "female" { "F" } else { "M" },
        );
        xml.push_str("      <BasicDetails>\n");
        if let Some(middle) = &pupil.middle_name {
            element(&mut xml, 8, "MiddleNames", middle);
        }
        if let Some(preferred) = &pupil.preferred_name {
            element(&mut xml, 8, "PreferredForename", preferred);
        }
        element(&mut xml, 8, "NCyearActual", &pupil.year_group);
        element(&mut xml, 8, "Ethnicity", pupil.ethnicity);
        xml.push_str("        <Languages>\n          <Type>\n");
        element(&mut xml, 12, "LanguageType", "F");
        element(&mut xml, 12, "Language", pupil.first_language);
        xml.push_str("          </Type>\n        </Languages>\n      </BasicDetails>\n");
        xml.push_str("      <SENhistory>\n        <SEN>\n");
        element(&mut xml, 10, "StartDate", &format!("{ACADEMIC_YEAR}-09-01"));
        element(&mut xml, 10, "SENprovision", pupil.sen_status);
        xml.push_str("        </SEN>\n      </SENhistory>\n");
        element(&mut xml, 6, "Email", &pupil.email);

        let figures = pupil.attendance;
        xml.push_str("      <Attendance>\n        <YearData>\n");
        element(&mut xml, 10, "Year", &ACADEMIC_YEAR.to_string());
        element(
            &mut xml,
            10,
            "SessionsPossible",
            &figures.possible.to_string(),
        );
        element(
            &mut xml,
            10,
            "SessionsAuthorised",
            &figures.authorised.to_string(),
        );
        element(
            &mut xml,
            10,
            "SessionsUnauthorised",
            &figures.unauthorised.to_string(),
        );
        xml.push_str("        </YearData>\n      </Attendance>\n");

        xml.push_str("      <Contacts>\n");
        let contacts = pupil
            .contact_ids
            .iter()
            .filter_map(|id| school.contacts.iter().find(|c| &c.sourced_id == id));
        for (order, contact) in contacts.enumerate() {
            xml.push_str("        <Contact>\n");
            element(&mut xml, 10, "Order", &(order + 1).to_string());
            element(&mut xml, 10, "Surname", &contact.family_name);
            element(&mut xml, 10, "Forename", &contact.given_name);
            let code = match contact.relationship {
                "parent" => "PAR",
                "guardian" => "CAR",
                _ => "FAM",
            };
            element(&mut xml, 10, "Relationship", code);
            element(&mut xml, 10, "Responsibility", "true");
            xml.push_str("          <Phones>\n            <Phone>\n");
            element(&mut xml, 14, "TelephoneType", "M");
            element(&mut xml, 14, "PhoneNo", &contact.phone);
            xml.push_str("            </Phone>\n          </Phones>\n");
            element(&mut xml, 10, "Email", &contact.email);
            xml.push_str("        </Contact>\n");
        }
        xml.push_str("      </Contacts>\n    </Pupil>\n");
    }
    xml.push_str("  </CTFpupilData>\n</CTfile>\n");
    xml
}

fn element(xml: &mut String, indent: usize, name: &str, text: &str) {
    let _ = writeln!(xml, "{:indent$}<{name}>{}</{name}>", "", escape(text));
}
