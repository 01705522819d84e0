//! Real-world export quirks that the OneRoster reader accepts, each with the warning a
//! school's IT team would want to see.

use serde_json::json;

use crate::catalogue::Area;
use crate::mis::oneroster_csv::read_bundle;
use crate::mis::{DateOrder, FieldSet, ReadOptions};

use super::bundle_builder::{BundleBuilder, DEMOGRAPHICS_HEADER, USERS_HEADER, all_of};

/// Student fields that users.csv alone provides (no demographics needed).
fn names() -> FieldSet {
    let fields = [
        "givenName",
        "familyName",
        "status",
        "upn",
        "preferredName",
        "yearGroup",
    ];
    FieldSet::new().with(Area::Students, &fields).unwrap()
}

fn pupil(id: &str, status: &str) -> String {
    format!("{id},{status},,true,org-1,student,{id}.user,Ada,Okafor,,a@school.example,,,09,A123,")
}

#[test]
fn blank_status_cell_means_active() {
    let bundle = BundleBuilder::v1p1().file("users", "bulk", &[USERS_HEADER, &pupil("p1", "")]);
    let extract = bundle.read(&names()).unwrap();
    assert_eq!(
        extract.records(Area::Students)[0].text("status"),
        Some("active")
    );
    assert!(extract.warnings.is_empty(), "{:?}", extract.warnings);
}

#[test]
fn unrequested_field_is_not_read() {
    let bundle =
        BundleBuilder::v1p1().file("users", "bulk", &[USERS_HEADER, &pupil("p1", "active")]);
    let fields = FieldSet::new()
        .with(Area::Students, &["yearGroup"])
        .unwrap();
    let extract = bundle.read(&fields).unwrap();
    let record = &extract.records(Area::Students)[0];
    assert_eq!(
        record.values.keys().copied().collect::<Vec<_>>(),
        ["yearGroup"]
    );
    assert_eq!(record.values["yearGroup"], json!("9"));
    assert!(!extract.records.contains_key(&Area::Staff));
}

#[test]
fn bom_and_crlf_are_accepted() {
    let text = format!("\u{feff}{USERS_HEADER}\r\n{}\r\n", pupil("p1", "active"));
    let bundle = BundleBuilder::v1p1().bytes("users", "bulk", text.as_bytes());
    let extract = bundle.read(&all_of(&[Area::Students])).unwrap();
    assert_eq!(extract.records(Area::Students)[0].sourced_id, "p1");
    assert_eq!(extract.records(Area::Students)[0].text("upn"), Some("A123"));
}

#[test]
fn unknown_columns_warn_once_and_metadata_columns_are_silent() {
    let header = format!("{USERS_HEADER},shoeSize,metadata.vendor.colour");
    let rows = [
        header.as_str(),
        &format!("{},42,red", pupil("p1", "")),
        &format!("{},43,blue", pupil("p2", "")),
    ];
    let extract = BundleBuilder::v1p1()
        .file("users", "bulk", &rows)
        .read(&names())
        .unwrap();
    assert_eq!(extract.warnings.len(), 1, "{:?}", extract.warnings);
    assert!(extract.warnings[0].message.contains("shoeSize"));
    assert_eq!(extract.records(Area::Students).len(), 2);
}

#[test]
fn misspelt_header_is_read_as_the_intended_column() {
    let header = "sourcedId,dataLastModified,role,givenName,familyName,prefferedGivenName";
    let bundle =
        BundleBuilder::v1p2().file("users", "bulk", &[header, "p1,,student,Ada,Okafor,Di"]);
    let extract = bundle.read(&all_of(&[Area::Students])).unwrap();
    assert_eq!(
        extract.records(Area::Students)[0].text("preferredName"),
        Some("Di")
    );
    let columns: Vec<_> = extract
        .warnings
        .iter()
        .filter_map(|w| w.column.as_deref())
        .collect();
    assert_eq!(columns, ["dataLastModified", "prefferedGivenName"]);
}

#[test]
fn short_rows_and_trailing_blank_headers_are_accepted() {
    let header = format!("{USERS_HEADER},,");
    let short = "p2,,,true,org-1,student,p2.user,Bo,Li";
    let bundle = BundleBuilder::v1p1().file(
        "users",
        "bulk",
        &[&header, &format!("{},,", pupil("p1", "")), short],
    );
    let extract = bundle.read(&names()).unwrap();
    assert_eq!(extract.records(Area::Students).len(), 2);
    assert!(extract.warnings.is_empty(), "{:?}", extract.warnings);
}

#[test]
fn ldap_style_user_ids_do_not_disturb_the_row() {
    let header = "sourcedId,role,userIds,givenName,familyName";
    let row = "p1,student,\"{LDAP:12},{LTI:15}\",Ada,Okafor";
    let extract = BundleBuilder::v1p1()
        .file("users", "bulk", &[header, row])
        .read(&all_of(&[Area::Students]))
        .unwrap();
    assert_eq!(
        extract.records(Area::Students)[0].text("familyName"),
        Some("Okafor")
    );
}

fn with_birth_date(date: &str) -> BundleBuilder {
    BundleBuilder::v1p1()
        .file("users", "bulk", &[USERS_HEADER, &pupil("p1", "")])
        .file(
            "demographics",
            "bulk",
            &[
                DEMOGRAPHICS_HEADER,
                &format!("p1,,,{date},female,WBRI,N,ENG"),
            ],
        )
}

#[test]
fn unambiguous_slashed_date_is_read_with_a_warning() {
    let extract = with_birth_date("15/06/2013")
        .read(&all_of(&[Area::Demographics]))
        .unwrap();
    assert_eq!(
        extract.records(Area::Demographics)[0].text("birthDate"),
        Some("2013-06-15")
    );
    let warning = &extract.warnings[0];
    assert_eq!(
        (
            warning.file.as_str(),
            warning.line,
            warning.column.as_deref()
        ),
        ("demographics.csv", Some(2), Some("birthDate"))
    );
}

#[test]
fn ambiguous_slashed_date_is_read_only_with_a_date_order() {
    let bundle = with_birth_date("1/05/2013");
    let fields = all_of(&[Area::Demographics]);
    let error = bundle.read(&fields).unwrap_err();
    assert_eq!(
        (error.file(), error.line(), error.column()),
        ("demographics.csv", Some(2), Some("birthDate"))
    );
    assert!(!error.to_string().contains("1/05/2013"));

    let options = ReadOptions {
        date_order: Some(DateOrder::DayFirst),
    };
    let extract = read_bundle(&bundle.folder(), &fields, &options).unwrap();
    assert_eq!(
        extract.records(Area::Demographics)[0].text("birthDate"),
        Some("2013-05-01")
    );
}

#[test]
fn delta_tobedeleted_row_is_reported_as_a_deletion() {
    let bundle = BundleBuilder::v1p1().file(
        "users",
        "delta",
        &[
            USERS_HEADER,
            &pupil("p1", "tobedeleted"),
            &pupil("p2", "active"),
        ],
    );
    let extract = bundle.read(&names()).unwrap();
    assert_eq!(extract.records(Area::Students).len(), 1);
    assert!(extract.deletions[&Area::Students].contains("p1"));
    assert!(extract.delta_areas.contains(&Area::Students));
    assert!(extract.warnings.is_empty(), "{:?}", extract.warnings);
}

#[test]
fn enrollment_of_unknown_user_is_left_out_with_a_warning() {
    let bundle = BundleBuilder::v1p1()
        .file("users", "bulk", &[USERS_HEADER, &pupil("p1", "")])
        .file("classes", "bulk", &["sourcedId,title", "c1,Maths"])
        .file(
            "enrollments",
            "bulk",
            &[
                "sourcedId,classSourcedId,userSourcedId,role,primary",
                "e1,c1,p1,student,false",
                "e2,c1,ghost,student,false",
            ],
        );
    let extract = bundle.read(&all_of(&[Area::Enrollments])).unwrap();
    assert_eq!(extract.records(Area::Enrollments).len(), 1);
    assert_eq!(
        extract.records(Area::Enrollments)[0].values["primary"],
        json!(false)
    );
    assert_eq!(extract.warnings.len(), 1);
    assert_eq!(extract.warnings[0].line, Some(3));
}

#[test]
fn contacts_are_linked_from_either_side() {
    let bundle = BundleBuilder::v1p1().file(
        "users",
        "bulk",
        &[
            "sourcedId,role,givenName,familyName,agentSourcedIds",
            "p1,student,Ada,Okafor,c1",
            "p2,student,Bo,Okafor,",
            "c1,parent,Chi,Okafor,p2",
        ],
    );
    let extract = bundle.read(&all_of(&[Area::Contacts])).unwrap();
    assert_eq!(
        extract.records(Area::Contacts)[0].values["studentSourcedIds"],
        json!(["p1", "p2"])
    );
}
