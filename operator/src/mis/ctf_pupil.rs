//! One CTF pupil as gathered while streaming, and the catalogue records it becomes.
//!
//! Limitation: SEN status is the last `SENprovision` in the file, whatever its start and
//! end dates say.

use std::collections::HashMap;

use serde_json::Value;

use crate::catalogue::Area;
use crate::mis::{FieldSet, Record};

/// A pupil's elements read so far.
pub(crate) struct Pupil {
    /// The line the `Pupil` element starts on.
    pub line: u64,
    values: HashMap<&'static str, (String, u64)>,
    /// The contact being read.
    pub contact: Option<Contact>,
    /// Contacts read.
    pub contacts: Vec<Contact>,
    /// The attendance year being read.
    pub year: Option<YearData>,
    latest: Option<YearData>,
    /// `LanguageType` and `Language` of the `Languages/Type` being read.
    pub language: (Option<String>, Option<String>),
}

/// A contact's elements.
#[derive(Default)]
pub(crate) struct Contact {
    values: HashMap<&'static str, String>,
}

/// One `Attendance/YearData`.
#[derive(Default, Clone)]
pub(crate) struct YearData {
    year: i32,
    figures: HashMap<&'static str, u32>,
}

/// What a pupil becomes.
pub(crate) struct PupilRecords {
    /// Records by area.
    pub records: Vec<(Area, Record)>,
    /// Relationship codes that were kept as written.
    pub unknown_relationships: Vec<String>,
}

impl Pupil {
    pub(crate) fn new(line: u64) -> Self {
        Pupil {
            line,
            values: HashMap::new(),
            contact: None,
            contacts: Vec::new(),
            year: None,
            latest: None,
            language: (None, None),
        }
    }

    /// Notes a pupil-level element; the first of each wins except SEN (the last).
    pub(crate) fn set(&mut self, element: &str, value: String, line: u64) {
        let key = match element {
            "upn" => "upn",
            "applicationreference" => "appref",
            "surname" | "legalsurname" => "surname",
            "forename" | "legalforename" => "forename",
            "middlenames" => "middle",
            "preferredforename" => "preferred",
            "dob" => "dob",
            "gender" => "gender",
            "sex" => "sex",
            "ncyearactual" => "year",
            "ethnicity" => "ethnicity",
            "firstlanguage" => "language",
            "email" | "emailaddress" => "email",
            "phoneno" => "phone",
            "senprovision" => {
                self.values.insert("sen", (value, line));
                return;
            }
            "languagetype" => {
                self.language.0 = Some(value);
                return;
            }
            "language" => {
                self.language.1 = Some(value);
                return;
            }
            "type" => {
                let (kind, language) = std::mem::take(&mut self.language);
                if kind.as_deref().is_some_and(|k| k.eq_ignore_ascii_case("F"))
                    && let Some(language) = language
                {
                    self.values.entry("language").or_insert((language, line));
                }
                return;
            }
            _ => return,
        };
        if !value.is_empty() {
            self.values.entry(key).or_insert((value, line));
        }
    }

    /// A pupil-level value.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(|(v, _)| v.as_str())
    }

    /// The line a pupil-level value was on.
    pub(crate) fn line_of(&self, key: &str) -> u64 {
        self.values
            .get(key)
            .map(|(_, line)| *line)
            .unwrap_or(self.line)
    }

    /// The UPN, else the application reference.
    pub(crate) fn sourced_id(&self) -> Option<String> {
        self.get("upn").or(self.get("appref")).map(str::to_owned)
    }

    /// Keeps the year just read if it is the latest so far.
    pub(crate) fn finish_year(&mut self) {
        if let Some(year) = self.year.take()
            && self
                .latest
                .as_ref()
                .is_none_or(|latest| year.year >= latest.year)
        {
            self.latest = Some(year);
        }
    }

    /// Possible, present, authorised, unauthorised; the failing element when absences
    /// exceed possible sessions.
    pub(crate) fn attendance(&self) -> Result<Option<[u32; 4]>, &'static str> {
        let Some(year) = &self.latest else {
            return Ok(None);
        };
        let figure = |name| year.figures.get(name).copied().unwrap_or(0);
        let possible = figure("sessionspossible");
        let authorised = figure("sessionsauthorised");
        let unauthorised = figure("sessionsunauthorised");
        let present = match year.figures.get("sessionspresent") {
            Some(present) => *present,
            None => possible
                .checked_sub(authorised.saturating_add(unauthorised))
                .ok_or("SessionsPossible")?,
        };
        Ok(Some([possible, present, authorised, unauthorised]))
    }

    /// The pupil's records in each requested area.
    pub(crate) fn records(
        &self,
        id: &str,
        fields: &FieldSet,
        birth: Option<Value>,
        sex: Option<Value>,
        attendance: Option<[u32; 4]>,
    ) -> PupilRecords {
        let text = |key| self.get(key).map(|v| Value::String(v.to_owned()));
        let mut student = Record::new(id);
        let area = Area::Students;
        student.put(fields, area, "givenName", text("forename"));
        student.put(fields, area, "familyName", text("surname"));
        student.put(fields, area, "middleName", text("middle"));
        student.put(fields, area, "preferredName", text("preferred"));
        student.put(fields, area, "dateOfBirth", birth.clone());
        student.put(fields, area, "sex", sex.clone());
        student.put(fields, area, "yearGroup", text("year"));
        student.put(fields, area, "email", text("email"));
        student.put(fields, area, "upn", text("upn"));
        student.put(fields, area, "phone", text("phone"));
        student.put(
            fields,
            area,
            "status",
            Some(Value::String("active".to_owned())),
        );

        let mut demographics = Record::new(id);
        let area = Area::Demographics;
        demographics.put(fields, area, "birthDate", birth);
        demographics.put(fields, area, "sex", sex);
        demographics.put(fields, area, "ethnicity", text("ethnicity"));
        demographics.put(fields, area, "senStatus", text("sen"));
        let language = text("language").or_else(|| match &self.language {
            (None, Some(language)) => Some(Value::String(language.clone())),
            _ => None,
        });
        demographics.put(fields, area, "firstLanguage", language);

        let mut records = vec![
            (Area::Students, student),
            (Area::Demographics, demographics),
        ];
        if let Some([possible, present, authorised, unauthorised]) = attendance {
            let mut figures = Record::new(id);
            let area = Area::Attendance;
            figures.put(fields, area, "sessionsPossible", Some(possible.into()));
            figures.put(fields, area, "sessionsPresent", Some(present.into()));
            figures.put(fields, area, "authorisedAbsences", Some(authorised.into()));
            figures.put(
                fields,
                area,
                "unauthorisedAbsences",
                Some(unauthorised.into()),
            );
            records.push((Area::Attendance, figures));
        }

        let mut unknown_relationships = Vec::new();
        for (index, contact) in self.contacts.iter().enumerate() {
            let order = contact
                .get("order")
                .map(str::to_owned)
                .unwrap_or((index + 1).to_string());
            let mut record = Record::new(format!("{id}-contact-{order}"));
            let text = |key| contact.get(key).map(|v| Value::String(v.to_owned()));
            let area = Area::Contacts;
            record.put(fields, area, "givenName", text("forename"));
            record.put(fields, area, "familyName", text("surname"));
            record.put(fields, area, "email", text("email"));
            record.put(fields, area, "phone", text("phone"));
            let code = contact.get("relationship");
            let relationship = code.map(|code| match relationship(code) {
                Some(word) => word.to_owned(),
                None => {
                    unknown_relationships.push(code.to_owned());
                    code.to_owned()
                }
            });
            record.put(
                fields,
                area,
                "relationship",
                relationship.map(Value::String),
            );
            record.put(
                fields,
                area,
                "studentSourcedIds",
                Some(Value::from(vec![id])),
            );
            records.push((Area::Contacts, record));
        }
        PupilRecords {
            records,
            unknown_relationships,
        }
    }
}

impl Contact {
    /// Notes a contact element; the first of each wins.
    pub(crate) fn set(&mut self, element: &str, value: String) {
        let key = match element {
            "order" => "order",
            "surname" => "surname",
            "forename" => "forename",
            "relationship" => "relationship",
            "email" | "emailaddress" => "email",
            "phoneno" => "phone",
            _ => return,
        };
        if !value.is_empty() {
            self.values.entry(key).or_insert(value);
        }
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }
}

impl YearData {
    /// Notes a `YearData` element.
    pub(crate) fn set(&mut self, element: &str, text: &str, figure: Option<u32>) {
        match (element, figure) {
            ("year", _) => self.year = text.parse().unwrap_or(0),
            ("sessionspossible", Some(n)) => _ = self.figures.insert("sessionspossible", n),
            ("sessionsauthorised", Some(n)) => _ = self.figures.insert("sessionsauthorised", n),
            ("sessionsunauthorised", Some(n)) => _ = self.figures.insert("sessionsunauthorised", n),
            ("sessionspresent", Some(n)) => _ = self.figures.insert("sessionspresent", n),
            _ => {}
        }
    }
}

/// The catalogue word for a CTF relationship code, when there is one.
fn relationship(code: &str) -> Option<&'static str> {
    match code.to_ascii_uppercase().as_str() {
        "PAR" | "STP" => Some("parent"),
        "CAR" | "FOS" | "GRD" => Some("guardian"),
        "FAM" | "REL" => Some("relative"),
        _ => None,
    }
}
