//! Reading OneRoster 1.1 and 1.2 CSV bundles, from a folder or a zip, into an
//! [`Extract`] of only the requested fields.
//!
//! Only the files that the requested areas need are opened, and of each row only the
//! requested columns are kept once the row is parsed. The manifest decides what each
//! file is: `bulk` (every row), `delta` (changes; `tobedeleted` rows become deletions)
//! or `absent`. A `tobedeleted` row in a bulk file is also reported as a deletion, with a
//! warning, since the MIS has said the record must go.
//!
//! Dates: `YYYY-MM-DD` is read as is. A slashed date such as `1/05/2023` is read only
//! when [`ReadOptions::date_order`] says which part is the day, or when it can mean one
//! day only (a part above 12, or day equal to month); otherwise the read fails naming the
//! file, line and column, because guessing would silently swap birthdays.
//!
//! References: in a bulk bundle, an enrollment whose user or class is not in the bundle
//! (or is marked `tobedeleted`) is left out with a warning rather than failing the read.
//! Exporters commonly filter users (leavers, withheld consent) without filtering their
//! enrollments; failing would stop every agreement of the school over one stale row,
//! while sharing it would send a partner an identifier it cannot resolve.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;

use csv::StringRecord;
use serde::Serialize;
use serde_json::Value;

use crate::catalogue::Area;
use crate::mis::bundle::Bundle;
use crate::mis::cell::{self, Status};
use crate::mis::manifest::{Manifest, Mode, file_name};
use crate::mis::table::Table;
use crate::mis::{Extract, FieldSet, MisError, Record, Warning, oneroster_people};

pub use crate::mis::cell::DateOrder;

/// Choices a school's connector makes about how to read its exports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReadOptions {
    /// How to read slashed dates; `None` reads only unambiguous ones.
    pub date_order: Option<DateOrder>,
}

/// Reads the bundle at `path` (a folder, or a `.zip` file) for the requested fields.
pub fn read_bundle(
    path: &Path,
    fields: &FieldSet,
    options: &ReadOptions,
) -> Result<Extract, MisError> {
    let mut bundle = Bundle::open(path)?;
    let mut warnings = Vec::new();
    let manifest = Manifest::read(&mut bundle, &mut warnings)?;
    let mut cx = Context {
        fields,
        options: *options,
        manifest,
        extract: Extract::for_fields(fields),
        noted: BTreeSet::new(),
    };
    cx.extract.warnings = warnings;

    let users = oneroster_people::read(&mut bundle, &mut cx)?;
    let classes = if fields.has_area(Area::Classes) || fields.has_area(Area::Enrollments) {
        read_classes(&mut bundle, &mut cx)?
    } else {
        None
    };
    if fields.has_area(Area::Enrollments) {
        read_enrollments(&mut bundle, &mut cx, users.as_ref(), classes.as_ref())?;
    }
    if fields.has_area(Area::Attendance) {
        let message = "attendance is not part of OneRoster; read it from a CTF file";
        cx.extract
            .warnings
            .push(Warning::file(&bundle.name(), message));
    }

    cx.extract.sort();
    Ok(cx.extract)
}

/// What one read carries from file to file.
pub(crate) struct Context<'f> {
    /// The requested fields.
    pub fields: &'f FieldSet,
    /// The school's reading choices.
    pub options: ReadOptions,
    /// The bundle's manifest.
    pub manifest: Manifest,
    /// What has been read so far.
    pub extract: Extract,
    /// (file, column, note) already warned about.
    noted: BTreeSet<(String, String, &'static str)>,
}

impl Context<'_> {
    /// Warns about a way of reading a column once per file, at its first line.
    pub(crate) fn note(&mut self, file: &str, line: u64, column: &str, how: &'static str) {
        let key = (file.to_owned(), column.to_owned(), how);
        if self.noted.insert(key) {
            let message = format!("{how} (this and later rows)");
            self.extract
                .warnings
                .push(Warning::at(file, line, Some(column), message));
        }
    }

    /// Reads a date cell, noting a non-standard form.
    pub(crate) fn date(
        &mut self,
        table: &Table<'_>,
        record: &StringRecord,
        line: u64,
        column: &'static str,
    ) -> Result<Option<Value>, MisError> {
        let Some(text) = table.cell(record, column) else {
            return Ok(None);
        };
        let (day, how) = cell::date(text, self.options.date_order)
            .map_err(|problem| table.bad_cell(line, column, problem))?;
        if let Some(how) = how {
            self.note(table.file(), line, column, how);
        }
        Ok(Some(Value::String(day)))
    }
}

/// Opens the file `stem` if the manifest provides it, with its mode.
pub(crate) fn open_table<'b>(
    bundle: &'b mut Bundle,
    cx: &mut Context<'_>,
    stem: &str,
    known: &[&'static str],
) -> Result<Option<(Table<'b>, Mode)>, MisError> {
    let Some(mode) = cx.manifest.mode(stem) else {
        return Ok(None);
    };
    let file = file_name(stem);
    let zip = bundle.zip_name();
    let input = bundle.read(&file)?;
    let table = Table::open(&file, zip, input, known, &mut cx.extract.warnings)?;
    table.require("sourcedId")?;
    Ok(Some((table, mode)))
}

/// The `sourcedId`s one file has shown so far, to refuse a repeated one.
#[derive(Default)]
pub(crate) struct Identifiers {
    lines: HashMap<String, u64>,
}

impl Identifiers {
    /// A row's `sourcedId`, which must be present and new in this file.
    pub(crate) fn take(
        &mut self,
        table: &Table<'_>,
        record: &StringRecord,
        line: u64,
    ) -> Result<String, MisError> {
        let Some(id) = table.cell(record, "sourcedId") else {
            return Err(MisError::BadValue {
                file: table.file().to_owned(),
                line,
                column: "sourcedId".to_owned(),
                expected: "blank; every row needs a sourcedId".to_owned(),
            });
        };
        if let Some(first_line) = self.lines.insert(id.to_owned(), line) {
            return Err(MisError::DuplicateSourcedId {
                file: table.file().to_owned(),
                line,
                first_line,
                sourced_id: id.to_owned(),
            });
        }
        Ok(id.to_owned())
    }
}

/// A row's status; in a bulk file `tobedeleted` is noted as unusual.
pub(crate) fn status(
    cx: &mut Context<'_>,
    table: &Table<'_>,
    record: &StringRecord,
    line: u64,
    mode: Mode,
) -> Result<Status, MisError> {
    let status = Status::read(table.cell(record, "status"))
        .map_err(|problem| table.bad_cell(line, "status", problem))?;
    if status == Status::ToBeDeleted && mode == Mode::Bulk {
        let how = "tobedeleted row in a bulk file reported as a deletion";
        cx.note(table.file(), line, "status", how);
    }
    Ok(status)
}

const CLASS_COLUMNS: &[&str] = &[
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
    "resources",
];

/// Reads classes; returns the live class identifiers when the file is bulk.
fn read_classes(
    bundle: &mut Bundle,
    cx: &mut Context<'_>,
) -> Result<Option<HashSet<String>>, MisError> {
    let Some((mut table, mode)) = open_table(bundle, cx, "classes", CLASS_COLUMNS)? else {
        absent(cx, Area::Classes, "classes.csv");
        return Ok(None);
    };
    let fields = cx.fields;
    if fields.wants(Area::Classes, "title") {
        table.require("title")?;
    }
    mark_delta(cx, Area::Classes, mode);

    let mut ids = Identifiers::default();
    let mut live = HashSet::new();
    let mut record = StringRecord::new();
    while let Some(line) = table.next_row(&mut record, &mut cx.extract.warnings)? {
        let id = ids.take(&table, &record, line)?;
        if status(cx, &table, &record, line, mode)? == Status::ToBeDeleted {
            cx.extract.delete(Area::Classes, &id);
            continue;
        }
        let text = |column| {
            table
                .cell(&record, column)
                .map(|s| Value::String(s.to_owned()))
        };
        let list = |column| {
            table
                .cell(&record, column)
                .map(|s| Value::from(cell::list(s)))
        };
        let mut class = Record::new(id.clone());
        class.put(fields, Area::Classes, "title", text("title"));
        class.put(fields, Area::Classes, "classCode", text("classCode"));
        class.put(fields, Area::Classes, "subjects", list("subjects"));
        class.put(
            fields,
            Area::Classes,
            "termSourcedIds",
            list("termSourcedIds"),
        );
        cx.extract.push(Area::Classes, class);
        live.insert(id);
    }
    Ok((mode == Mode::Bulk).then_some(live))
}

const ENROLLMENT_COLUMNS: &[&str] = &[
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
];

/// Reads enrollments, leaving out those that refer to users or classes not in a bulk
/// bundle.
fn read_enrollments(
    bundle: &mut Bundle,
    cx: &mut Context<'_>,
    users: Option<&HashSet<String>>,
    classes: Option<&HashSet<String>>,
) -> Result<(), MisError> {
    let Some((mut table, mode)) = open_table(bundle, cx, "enrollments", ENROLLMENT_COLUMNS)? else {
        absent(cx, Area::Enrollments, "enrollments.csv");
        return Ok(());
    };
    for column in ["classSourcedId", "userSourcedId", "role"] {
        table.require(column)?;
    }
    let fields = cx.fields;
    mark_delta(cx, Area::Enrollments, mode);

    let mut ids = Identifiers::default();
    let mut record = StringRecord::new();
    while let Some(line) = table.next_row(&mut record, &mut cx.extract.warnings)? {
        let id = ids.take(&table, &record, line)?;
        if status(cx, &table, &record, line, mode)? == Status::ToBeDeleted {
            cx.extract.delete(Area::Enrollments, &id);
            continue;
        }
        let user = table.cell(&record, "userSourcedId");
        let class = table.cell(&record, "classSourcedId");
        let unknown = |known: Option<&HashSet<String>>, id: Option<&str>| match (known, id) {
            (Some(known), Some(id)) => !known.contains(id),
            (_, None) => true,
            (None, Some(_)) => false,
        };
        let left_out = if unknown(users, user) {
            Some("userSourcedId refers to a user not in users.csv (or tobedeleted)")
        } else if unknown(classes, class) {
            Some("classSourcedId refers to a class not in classes.csv (or tobedeleted)")
        } else {
            None
        };
        if let Some(why) = left_out {
            let message = format!("enrollment {id} left out: {why}");
            cx.extract
                .warnings
                .push(Warning::at(table.file(), line, None, message));
            continue;
        }

        let primary = match table.cell(&record, "primary") {
            Some(text) => Some(
                cell::boolean(text).map_err(|problem| table.bad_cell(line, "primary", problem))?,
            ),
            None => None,
        };
        let text = |column| {
            table
                .cell(&record, column)
                .map(|s| Value::String(s.to_owned()))
        };
        let mut enrollment = Record::new(id);
        enrollment.put(
            fields,
            Area::Enrollments,
            "classSourcedId",
            text("classSourcedId"),
        );
        enrollment.put(
            fields,
            Area::Enrollments,
            "userSourcedId",
            text("userSourcedId"),
        );
        enrollment.put(fields, Area::Enrollments, "role", text("role"));
        enrollment.put(
            fields,
            Area::Enrollments,
            "primary",
            primary.map(Value::Bool),
        );
        cx.extract.push(Area::Enrollments, enrollment);
    }
    Ok(())
}

/// Records that an area's records are changes only.
pub(crate) fn mark_delta(cx: &mut Context<'_>, area: Area, mode: Mode) {
    if mode == Mode::Delta && cx.fields.has_area(area) {
        cx.extract.delta_areas.insert(area);
    }
}

/// Warns that a requested area's file is absent from the bundle.
pub(crate) fn absent(cx: &mut Context<'_>, area: Area, file: &str) {
    if cx.fields.has_area(area) {
        let message = format!("{file} is absent from the bundle, so {area} has no records");
        cx.extract.warnings.push(Warning::file(file, message));
    }
}
