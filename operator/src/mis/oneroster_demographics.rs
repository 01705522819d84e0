//! OneRoster `demographics.csv`: dates of birth, sex and the UK extension columns,
//! kept for pupils only and copied onto student records when those fields are asked for.

use csv::StringRecord;
use serde_json::Value;

use crate::catalogue::Area;
use crate::mis::bundle::Bundle;
use crate::mis::cell::{self, Status};
use crate::mis::oneroster_csv::{Context, Identifiers, absent, open_table, status};
use crate::mis::oneroster_people::People;
use crate::mis::table::Table;
use crate::mis::{MisError, Record, Warning};

const DEMOGRAPHIC_COLUMNS: &[&str] = &[
    "sourcedId",
    "status",
    "dateLastModified",
    "birthDate",
    "sex",
    "americanIndianOrAlaskaNative",
    "asian",
    "blackOrAfricanAmerican",
    "nativeHawaiianOrOtherPacificIslander",
    "white",
    "demographicRaceTwoOrMoreRaces",
    "hispanicOrLatinoEthnicity",
    "countryOfBirthCode",
    "stateOfBirthAbbreviation",
    "cityOfBirth",
    "publicSchoolResidenceStatus",
    "metadata.uk.ethnicity",
    "metadata.uk.senStatus",
    "metadata.uk.firstLanguage",
];

/// Reads demographics for the pupils in `people`.
pub(crate) fn read(
    bundle: &mut Bundle,
    cx: &mut Context<'_>,
    people: &mut People,
) -> Result<(), MisError> {
    let fields = cx.fields;
    let for_students = ["dateOfBirth", "sex"]
        .iter()
        .any(|f| fields.wants(Area::Students, f));
    if !fields.has_area(Area::Demographics) && !for_students {
        return Ok(());
    }
    let Some((mut table, mode)) = open_table(bundle, cx, "demographics", DEMOGRAPHIC_COLUMNS)?
    else {
        absent(cx, Area::Demographics, "demographics.csv");
        if for_students {
            let message = "demographics.csv is absent, so students have no dateOfBirth or sex";
            cx.extract
                .warnings
                .push(Warning::file("demographics.csv", message));
        }
        return Ok(());
    };

    let mut ids = Identifiers::default();
    let mut record = StringRecord::new();
    while let Some(line) = table.next_row(&mut record, &mut cx.extract.warnings)? {
        let id = ids.take(&table, &record, line)?;
        if status(cx, &table, &record, line, mode)? == Status::ToBeDeleted {
            cx.extract.delete(Area::Demographics, &id);
            continue;
        }
        // Only pupils' demographics are kept; a bulk users file names every pupil.
        let pupil = people.pupils.contains(&id);
        if people.not_students.contains(&id) || (people.bulk && !pupil) {
            continue;
        }

        let birth = cx.date(&table, &record, line, "birthDate")?;
        let sex = read_sex(cx, &table, &record, line)?;
        if let Some(student) = people.students.get_mut(&id) {
            student.put(fields, Area::Students, "dateOfBirth", birth.clone());
            student.put(fields, Area::Students, "sex", sex.clone());
        }
        let text = |column| {
            table
                .cell(&record, column)
                .map(|s| Value::String(s.to_owned()))
        };
        let mut row = Record::new(id);
        row.put(fields, Area::Demographics, "birthDate", birth);
        row.put(fields, Area::Demographics, "sex", sex);
        row.put(
            fields,
            Area::Demographics,
            "ethnicity",
            text("metadata.uk.ethnicity"),
        );
        row.put(
            fields,
            Area::Demographics,
            "senStatus",
            text("metadata.uk.senStatus"),
        );
        row.put(
            fields,
            Area::Demographics,
            "firstLanguage",
            text("metadata.uk.firstLanguage"),
        );
        cx.extract.push(Area::Demographics, row);
    }
    Ok(())
}

fn read_sex(
    cx: &mut Context<'_>,
    table: &Table<'_>,
    record: &StringRecord,
    line: u64,
) -> Result<Option<Value>, MisError> {
    let Some(text) = table.cell(record, "sex") else {
        return Ok(None);
    };
    let (word, how) = cell::sex(text).map_err(|problem| table.bad_cell(line, "sex", problem))?;
    if let Some(how) = how {
        cx.note(table.file(), line, "sex", how);
    }
    Ok(Some(Value::String(word.to_owned())))
}
