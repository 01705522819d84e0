//! Common Transfer Files: the sample round-trips, supplier spellings are read, and bad
//! files fail with a line number and no personal data.

use serde_json::json;

use crate::catalogue::Area;
use crate::mis::ctf::{read_ctf, read_ctf_from};
use crate::mis::ctf_write::write_ctf;
use crate::mis::sample::{SchoolInfo, school};
use crate::mis::{FieldSet, MisError, Record};

use super::bundle_builder::all_of;

fn read(xml: &str) -> Result<crate::mis::Extract, MisError> {
    let fields = all_of(&[
        Area::Students,
        Area::Contacts,
        Area::Demographics,
        Area::Attendance,
    ]);
    read_ctf_from(xml.as_bytes(), "test.xml", &fields)
}

/// A CTF document around the given pupil elements.
fn ctf(pupils: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?>\n<CTfile>\n<Header><CTFVersion>25.0</CTFVersion></Header>\n<CTFpupilData>\n{pupils}</CTFpupilData>\n</CTfile>\n"
    )
}

#[test]
fn written_ctf_reads_back_as_the_sample() {
    let info = SchoolInfo {
        name: "Southfield Academy".into(),
        urn: "100002".into(),
        la_estab: "3804001".into(),
    };
    let sample = school(3, &info, 60);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("school.xml");
    write_ctf(&sample, &path).unwrap();

    let student_fields = [
        "givenName",
        "familyName",
        "middleName",
        "preferredName",
        "dateOfBirth",
        "sex",
        "yearGroup",
        "email",
        "upn",
        "status",
    ];
    let fields = all_of(&[Area::Demographics, Area::Attendance])
        .with(Area::Students, &student_fields)
        .unwrap();
    let read = read_ctf(&path, &fields).unwrap();
    assert!(read.warnings.is_empty(), "{:?}", read.warnings);

    // CTF names pupils by UPN, so the sample's records are compared under their UPNs.
    let by_upn = |records: &[Record]| -> Vec<Record> {
        let mut out: Vec<Record> = records
            .iter()
            .map(|r| {
                let pupil = sample
                    .students
                    .iter()
                    .find(|p| p.sourced_id == r.sourced_id)
                    .unwrap();
                Record {
                    sourced_id: pupil.upn.clone(),
                    values: r.values.clone(),
                }
            })
            .collect();
        out.sort_by(|a, b| a.sourced_id.cmp(&b.sourced_id));
        out
    };
    let expected = sample.extract(&fields);
    for area in [Area::Students, Area::Demographics, Area::Attendance] {
        assert_eq!(read.records(area), by_upn(expected.records(area)), "{area}");
    }

    let contacts = read_ctf(&path, &all_of(&[Area::Contacts])).unwrap();
    let listed: usize = sample.students.iter().map(|p| p.contact_ids.len()).sum();
    assert_eq!(contacts.records(Area::Contacts).len(), listed);
}

#[test]
fn supplier_spellings_are_all_read() {
    let extract = read(&ctf("<Pupil><UPN>A1</UPN><BasicDetails><LegalSurname>Okafor</LegalSurname><LegalForename>Ada</LegalForename><DOB>2014-10-02</DOB><Gender>F</Gender><NCyearActual>6</NCyearActual><FirstLanguage>ENG</FirstLanguage></BasicDetails>\
<Attendance><YearData><Year>2023</Year><SessionsPossible>300</SessionsPossible></YearData><YearData><Year>2024</Year><SessionsPossible>380</SessionsPossible><SessionsAuthorised>10</SessionsAuthorised><SessionsUnauthorised>2</SessionsUnauthorised><SessionsPresent>368</SessionsPresent></YearData></Attendance>\
<Contacts><Contact><Order>2</Order><Forename>Chi</Forename><Relationship>SWR</Relationship></Contact></Contacts></Pupil>\n")).unwrap();
    let student = &extract.records(Area::Students)[0];
    assert_eq!(
        (
            student.sourced_id.as_str(),
            student.text("familyName"),
            student.text("sex")
        ),
        ("A1", Some("Okafor"), Some("female"))
    );
    assert_eq!(
        extract.records(Area::Demographics)[0].text("firstLanguage"),
        Some("ENG")
    );
    let attendance = &extract.records(Area::Attendance)[0];
    assert_eq!(attendance.values["sessionsPossible"], json!(380));
    assert_eq!(attendance.values["sessionsPresent"], json!(368));
    let contact = &extract.records(Area::Contacts)[0];
    assert_eq!(contact.sourced_id, "A1-contact-2");
    assert_eq!(contact.text("relationship"), Some("SWR"));
    assert_eq!(
        extract.warnings.len(),
        1,
        "unknown relationship code is noted"
    );
}

#[test]
fn pupil_without_identifier_is_reported_with_its_line() {
    let error = read(&ctf("<Pupil>\n<Surname>Okafor</Surname>\n</Pupil>\n")).unwrap_err();
    assert!(matches!(error, MisError::BadXml { line: 5, .. }), "{error}");
    assert!(!error.to_string().contains("Okafor"));
}

#[test]
fn bad_date_of_birth_names_the_element_not_the_value() {
    let error = read(&ctf(
        "<Pupil><UPN>A1</UPN>\n<DOB>02/10/2014</DOB></Pupil>\n",
    ))
    .unwrap_err();
    assert_eq!((error.line(), error.column()), (Some(6), Some("DOB")));
    assert!(!error.to_string().contains("2014"));
}

#[test]
fn broken_xml_is_reported_with_its_line() {
    let error = read(&ctf(
        "<Pupil><UPN>A1</UPN>\n<Surname>Okafor</Forename></Pupil>\n",
    ))
    .unwrap_err();
    assert!(matches!(error, MisError::BadXml { line: 6, .. }), "{error}");
    assert!(!error.to_string().contains("Okafor"));
}

#[test]
fn other_xml_is_not_taken_for_a_ctf() {
    let error = read("<?xml version=\"1.0\"?>\n<Message><Pupil/></Message>").unwrap_err();
    assert!(matches!(error, MisError::BadXml { line: 2, .. }), "{error}");
}

#[test]
fn duplicate_upn_is_reported() {
    let error = read(&ctf(
        "<Pupil><UPN>A1</UPN></Pupil>\n<Pupil><UPN>A1</UPN></Pupil>\n",
    ))
    .unwrap_err();
    assert!(
        matches!(
            error,
            MisError::DuplicateSourcedId {
                line: 6,
                first_line: 5,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn unrequested_ctf_areas_are_left_out() {
    let fields = FieldSet::new()
        .with(Area::Attendance, &["sessionsPossible"])
        .unwrap();
    let xml = ctf(
        "<Pupil><UPN>A1</UPN><Surname>Okafor</Surname><Attendance><YearData><SessionsPossible>10</SessionsPossible></YearData></Attendance></Pupil>\n",
    );
    let extract = read_ctf_from(xml.as_bytes(), "t.xml", &fields).unwrap();
    assert!(!extract.records.contains_key(&Area::Students));
    assert_eq!(extract.records(Area::Attendance)[0].values.len(), 1);
}
