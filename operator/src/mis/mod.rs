//! The MIS-format layer: what a school's management information system exports, read
//! into catalogue records, and nothing more.
//!
//! Readers take a [`FieldSet`] (the union of fields that agreements authorise) and return
//! an [`Extract`] holding only those fields, so a field no agreement needs is never held
//! past the row it was parsed from. Nothing here touches the network or a database.
//!
//! # How catalogue fields are found in each format
//!
//! OneRoster users are split into areas by role: `student` → students; `teacher`,
//! `administrator`, `aide`, `proctor`, `counselor`, `principal`, `siteAdministrator`,
//! `districtAdministrator`, `systemAdministrator` → staff; `parent`, `guardian`,
//! `relative` → contacts. OneRoster 1.1 takes the role from `users.csv` `role`; 1.2 from
//! `roles.csv` (falling back to a `role` column in `users.csv`). A user with roles in
//! two areas appears in both. Demographics are kept for students only.
//!
//! | area.field | OneRoster 1.1 / 1.2 CSV | CTF XML (inside `Pupil`) |
//! |---|---|---|
//! | students.sourcedId | users `sourcedId` | `UPN`, else `ApplicationReference` |
//! | students.givenName | users `givenName` | `Forename` (or `LegalForename`) |
//! | students.familyName | users `familyName` | `Surname` (or `LegalSurname`) |
//! | students.middleName | users `middleName` | `MiddleNames` |
//! | students.preferredName | 1.2 `preferredGivenName`; else `metadata.uk.preferredName` | `PreferredForename` |
//! | students.dateOfBirth | demographics `birthDate` | `DOB` |
//! | students.sex | demographics `sex` | `Sex` or `Gender` (M/F/...) |
//! | students.yearGroup | users `grades`, first value, leading zeros dropped | `NCyearActual` |
//! | students.email | users `email` | pupil-level `Email` |
//! | students.username | users `username` | not in CTF |
//! | students.upn | `metadata.uk.upn` (never `identifier`) | `UPN` |
//! | students.phone | users `phone` | pupil-level `Phones/Phone/PhoneNo` (first) |
//! | students.status | users `status` (blank = `active`) | always `active` |
//! | staff.* | users `givenName`, `familyName`, `email`, `phone`; `role` as above | not in CTF |
//! | contacts.givenName, familyName, email, phone | users columns of the same name | `Contact/Forename`, `Surname`, `Email`, `Phones/Phone/PhoneNo` |
//! | contacts.sourcedId | users `sourcedId` | `{pupil sourcedId}-contact-{Order}` |
//! | contacts.relationship | the contact role (`parent`, `guardian`, `relative`) | `Relationship` code, see [`ctf`] |
//! | contacts.studentSourcedIds | `agentSourcedIds`, read in either direction | the pupil the contact is listed under |
//! | classes.* | classes `sourcedId`, `title`, `classCode`, `subjects`, `termSourcedIds` | not in CTF |
//! | enrollments.* | enrollments `sourcedId`, `classSourcedId`, `userSourcedId`, `role`, `primary` | not in CTF |
//! | demographics.birthDate, sex | demographics `birthDate`, `sex` | `DOB`, `Sex`/`Gender` |
//! | demographics.ethnicity | demographics `metadata.uk.ethnicity` | `Ethnicity` |
//! | demographics.senStatus | demographics `metadata.uk.senStatus` | `SENhistory/SEN/SENprovision` (last) |
//! | demographics.firstLanguage | demographics `metadata.uk.firstLanguage` | `FirstLanguage`, or `Language` whose `LanguageType` is `F` |
//! | attendance.* | not in OneRoster | `Attendance/YearData` of the latest `Year`: `SessionsPossible`, `SessionsAuthorised`, `SessionsUnauthorised`, `SessionsPresent` (else possible − authorised − unauthorised) |
//!
//! Values are strings, except: `subjects`, `termSourcedIds` and `studentSourcedIds` are
//! arrays of strings, `enrollments.primary` is a boolean, attendance figures are integers,
//! dates are `YYYY-MM-DD` strings and `sex` is one of `male`, `female`, `other`,
//! `unspecified`. A blank cell leaves the field out of the record.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use crate::catalogue::{Area, SOURCED_ID};

mod bundle;
mod cell;
pub mod ctf;
mod ctf_pupil;
pub mod ctf_write;
mod encoding;
mod error;
mod manifest;
pub mod oneroster_csv;
pub mod oneroster_csv_write;
mod oneroster_demographics;
mod oneroster_people;
pub mod rest;
pub mod sample;
mod sample_extract;
mod sample_names;
mod sample_school;
mod table;

#[cfg(test)]
mod tests;

pub use error::{MisError, Warning};
pub use oneroster_csv::{DateOrder, ReadOptions};

/// The fields of each area to read: everything else is skipped while parsing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FieldSet {
    areas: BTreeMap<Area, BTreeSet<&'static str>>,
}

/// The error for a field name that the data catalogue does not have.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("field \"{area}.{name}\" is not in the data catalogue; use one of the catalogue's names")]
pub struct UnknownField {
    /// The area the field was asked for in.
    pub area: Area,
    /// The name that was asked for.
    pub name: String,
}

impl FieldSet {
    /// An empty set: nothing is read.
    pub fn new() -> Self {
        FieldSet::default()
    }

    /// Every field of every area.
    pub fn everything() -> Self {
        let mut set = FieldSet::new();
        for area in Area::ALL {
            set.areas
                .insert(area, area.fields().map(|f| f.name).collect());
        }
        set
    }

    /// Adds fields of one area by catalogue name; `sourcedId` is always added with the
    /// area. Fails on the first name the catalogue does not have.
    pub fn with(mut self, area: Area, names: &[&str]) -> Result<Self, UnknownField> {
        for name in names {
            self.insert(area, name)?;
        }
        self.areas.entry(area).or_default().insert(SOURCED_ID);
        Ok(self)
    }

    /// Adds one field by catalogue name (and the area's `sourcedId`).
    pub fn insert(&mut self, area: Area, name: &str) -> Result<(), UnknownField> {
        let field = area.field(name).ok_or_else(|| UnknownField {
            area,
            name: name.to_owned(),
        })?;
        let names = self.areas.entry(area).or_default();
        names.insert(SOURCED_ID);
        names.insert(field.name);
        Ok(())
    }

    /// Whether the set asks for this field of this area.
    pub fn wants(&self, area: Area, name: &str) -> bool {
        self.areas
            .get(&area)
            .is_some_and(|names| names.contains(name))
    }

    /// Whether the set asks for anything in this area.
    pub fn has_area(&self, area: Area) -> bool {
        self.areas.contains_key(&area)
    }

    /// The areas asked for, in catalogue order.
    pub fn areas(&self) -> impl Iterator<Item = Area> + '_ {
        self.areas.keys().copied()
    }

    /// The fields asked for in one area.
    pub fn fields(&self, area: Area) -> impl Iterator<Item = &'static str> + '_ {
        self.areas.get(&area).into_iter().flatten().copied()
    }
}

/// One record of one area, holding only the requested fields.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Record {
    /// The MIS identifier, always present.
    pub sourced_id: String,
    /// Requested fields other than `sourcedId` that had a value, by catalogue name.
    pub values: BTreeMap<&'static str, Value>,
}

impl Record {
    /// A record with only its identifier.
    pub fn new(sourced_id: impl Into<String>) -> Self {
        Record {
            sourced_id: sourced_id.into(),
            values: BTreeMap::new(),
        }
    }

    /// Sets a field when the set asks for it and the value is present.
    pub fn put(&mut self, fields: &FieldSet, area: Area, name: &'static str, value: Option<Value>) {
        if let Some(value) = value.filter(|_| fields.wants(area, name)) {
            self.values.insert(name, value);
        }
    }

    /// A field's value as text, when it is a string.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.values.get(name).and_then(Value::as_str)
    }
}

/// What one read of a school's MIS export produced.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Extract {
    /// The records of each requested area, sorted by `sourcedId`.
    pub records: BTreeMap<Area, Vec<Record>>,
    /// Identifiers the export marks for deletion, per area.
    pub deletions: BTreeMap<Area, BTreeSet<String>>,
    /// Areas whose records are changes only (OneRoster delta files), not the full set.
    pub delta_areas: BTreeSet<Area>,
    /// What was accepted although the standard does not allow it, and how.
    pub warnings: Vec<Warning>,
}

impl Extract {
    /// An extract with an empty list for every requested area.
    pub fn for_fields(fields: &FieldSet) -> Self {
        let records = fields.areas().map(|area| (area, Vec::new())).collect();
        Extract {
            records,
            ..Extract::default()
        }
    }

    /// The records of one area (empty when the area was not requested).
    pub fn records(&self, area: Area) -> &[Record] {
        self.records
            .get(&area)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// One record by area and identifier.
    pub fn find(&self, area: Area, sourced_id: &str) -> Option<&Record> {
        self.records(area)
            .iter()
            .find(|r| r.sourced_id == sourced_id)
    }

    /// Adds a record to a requested area; records of other areas are dropped.
    pub fn push(&mut self, area: Area, record: Record) {
        if let Some(list) = self.records.get_mut(&area) {
            list.push(record);
        }
    }

    /// Notes a deletion in a requested area.
    pub fn delete(&mut self, area: Area, sourced_id: &str) {
        if self.records.contains_key(&area) {
            self.deletions
                .entry(area)
                .or_default()
                .insert(sourced_id.to_owned());
        }
    }

    /// Sorts every area's records by identifier, so equal inputs give equal extracts.
    pub fn sort(&mut self) {
        for list in self.records.values_mut() {
            list.sort_by(|a, b| a.sourced_id.cmp(&b.sourced_id));
        }
    }
}
