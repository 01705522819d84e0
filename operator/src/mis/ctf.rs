//! Reading a DfE Common Transfer File (CTF) into students, contacts, demographics and
//! attendance, streaming the XML so a large file is never held as a tree.
//!
//! The root is `CTfile`; pupils are `CTFpupilData/Pupil`. Element names are matched
//! without regard to letter case or namespace prefix, since suppliers differ
//! (`CTFversion` and `CTFVersion` both occur). Where CTF versions or suppliers place a
//! field differently, both places are read: names directly under `Pupil` or inside
//! `BasicDetails`, `Surname`/`Forename` or `LegalSurname`/`LegalForename`, `Gender` or
//! `Sex`, and `FirstLanguage` or `Languages/Type` with `LanguageType` `F`.
//!
//! Identifiers: a pupil's `sourcedId` is its `UPN`, else its `ApplicationReference`.
//! Contacts have no identifier in CTF, so each gets `{pupil sourcedId}-contact-{Order}`.
//! Attendance is the `YearData` with the latest `Year`; `sessionsPresent` is
//! `SessionsPresent` when given, else possible less authorised and unauthorised absences.
//! Relationship codes `PAR`/`STP` read as `parent`, `CAR`/`FOS`/`GRD` as `guardian`,
//! `FAM`/`REL` as `relative`; other codes are kept as written, with a warning.
//!
//! Limitation: a contact shared by siblings appears once per pupil, with a different
//! identifier each time, because CTF gives contacts no identifier of their own.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::rc::Rc;

use quick_xml::Reader;
use quick_xml::events::Event;
use serde_json::Value;

use crate::catalogue::Area;
use crate::mis::cell;
use crate::mis::ctf_pupil::{Contact, Pupil, YearData};
use crate::mis::encoding::{Lines, Utf8Only, not_utf8_in};
use crate::mis::{Extract, FieldSet, MisError, Warning};

/// Reads the CTF file at `path` for the requested fields.
pub fn read_ctf(path: &Path, fields: &FieldSet) -> Result<Extract, MisError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let file = File::open(path).map_err(|source| MisError::Io {
        file: name.clone(),
        source,
    })?;
    read_ctf_from(file, &name, fields)
}

/// Reads a CTF document from `input`; `name` is used in messages.
pub fn read_ctf_from(input: impl Read, name: &str, fields: &FieldSet) -> Result<Extract, MisError> {
    let checked = Utf8Only::new(input);
    let lines = checked.lines();
    let mut reader = Reader::from_reader(BufReader::new(checked));
    reader.config_mut().trim_text(true);
    let mut walk = Walk {
        file: name.to_owned(),
        lines,
        fields,
        extract: Extract::for_fields(fields),
        path: Vec::new(),
        text: String::new(),
        pupil: None,
        seen: HashMap::new(),
        root_seen: false,
    };

    let mut buf = Vec::new();
    loop {
        let event = reader.read_event_into(&mut buf);
        let at = reader.buffer_position();
        match event {
            Ok(Event::Start(start)) => {
                let local = start.local_name();
                walk.open(local.as_ref(), at)?;
            }
            Ok(Event::Empty(start)) => {
                let local = start.local_name();
                walk.open(local.as_ref(), at)?;
                walk.close(at)?;
            }
            Ok(Event::End(_)) => walk.close(at)?,
            Ok(Event::Text(text)) => walk.text.push_str(&text.xml10_content()),
            Ok(Event::CData(data)) => walk.text.push_str(&data.xml10_content()),
            Ok(Event::GeneralRef(entity)) => {
                let resolved = match entity.resolve_char_ref() {
                    Ok(Some(c)) => Some(c),
                    Ok(None) => match &*entity {
                        "amp" => Some('&'),
                        "lt" => Some('<'),
                        "gt" => Some('>'),
                        "quot" => Some('"'),
                        "apos" => Some('\''),
                        _ => None,
                    },
                    Err(_) => None,
                };
                let Some(c) = resolved else {
                    return Err(walk.bad(at, "an entity or character reference is not valid XML"));
                };
                walk.text.push(c);
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(error) => return Err(walk.xml_error(error, reader.error_position())),
        }
        buf.clear();
    }

    if !walk.root_seen {
        return Err(walk.bad(
            0,
            "no CTfile element found; this is not a Common Transfer File",
        ));
    }
    for area in [Area::Staff, Area::Classes, Area::Enrollments] {
        if fields.has_area(area) {
            let message = format!("{area} are not part of a Common Transfer File");
            walk.extract.warnings.push(Warning::file(name, message));
        }
    }
    walk.extract.sort();
    Ok(walk.extract)
}

/// The reader's place in the document and what it has gathered.
struct Walk<'f> {
    file: String,
    lines: Rc<RefCell<Lines>>,
    fields: &'f FieldSet,
    extract: Extract,
    /// Lower-cased local names of the open elements.
    path: Vec<String>,
    /// Text of the innermost element so far.
    text: String,
    pupil: Option<Pupil>,
    /// Pupil identifiers seen, with their lines.
    seen: HashMap<String, u64>,
    root_seen: bool,
}

impl Walk<'_> {
    fn line(&self, offset: u64) -> u64 {
        self.lines.borrow_mut().line_of(offset)
    }

    fn bad(&self, offset: u64, reason: &str) -> MisError {
        MisError::BadXml {
            file: self.file.clone(),
            line: self.line(offset),
            reason: reason.to_owned(),
        }
    }

    fn open(&mut self, name: &str, at: u64) -> Result<(), MisError> {
        let name = name.to_ascii_lowercase();
        if self.path.is_empty() && name != "ctfile" {
            return Err(self.bad(
                at,
                "the root element is not CTfile; this is not a Common Transfer File",
            ));
        }
        self.root_seen = true;
        if name == "pupil" && self.path.last().is_some_and(|p| p == "ctfpupildata") {
            self.pupil = Some(Pupil::new(self.line(at)));
        }
        if let Some(pupil) = &mut self.pupil {
            match name.as_str() {
                "contact" => pupil.contact = Some(Contact::default()),
                "yeardata" => pupil.year = Some(YearData::default()),
                "type" => pupil.language = (None, None),
                _ => {}
            }
        }
        self.path.push(name);
        self.text.clear();
        Ok(())
    }

    fn close(&mut self, at: u64) -> Result<(), MisError> {
        let Some(name) = self.path.pop() else {
            return Ok(());
        };
        let text = std::mem::take(&mut self.text);
        let inside = |section: &str| self.path.iter().any(|p| p == section);
        let (in_contact, in_year, in_address) =
            (inside("contact"), inside("yeardata"), inside("address"));
        let line = self.line(at);
        if name == "pupil"
            && let Some(done) = self.pupil.take()
        {
            return self.finish(done);
        }
        let Some(pupil) = &mut self.pupil else {
            return Ok(());
        };
        let value = text.trim().to_owned();
        if in_address {
            return Ok(());
        }
        if in_contact {
            if name == "contact" {
                if let Some(contact) = pupil.contact.take() {
                    pupil.contacts.push(contact);
                }
            } else if let Some(contact) = &mut pupil.contact {
                contact.set(&name, value);
            }
            return Ok(());
        }
        if name == "contact" {
            if let Some(contact) = pupil.contact.take() {
                pupil.contacts.push(contact);
            }
            return Ok(());
        }
        if in_year || name == "yeardata" {
            if name == "yeardata" {
                pupil.finish_year();
            } else if let Some(year) = &mut pupil.year {
                let figure = |v: &str| v.parse::<u32>().ok();
                let parsed = figure(&value);
                if parsed.is_none() && name.starts_with("sessions") && !value.is_empty() {
                    return Err(MisError::BadValue {
                        file: self.file.clone(),
                        line,
                        column: name,
                        expected: "a whole number of sessions".to_owned(),
                    });
                }
                year.set(&name, &value, parsed);
            }
            return Ok(());
        }
        pupil.set(&name, value, line);
        Ok(())
    }

    fn finish(&mut self, pupil: Pupil) -> Result<(), MisError> {
        let id = pupil.sourced_id().ok_or_else(|| MisError::BadXml {
            file: self.file.clone(),
            line: pupil.line,
            reason: "pupil has neither UPN nor ApplicationReference; add one".to_owned(),
        })?;
        if let Some(first_line) = self.seen.insert(id.clone(), pupil.line) {
            return Err(MisError::DuplicateSourcedId {
                file: self.file.clone(),
                line: pupil.line,
                first_line,
                sourced_id: id,
            });
        }
        let birth = match pupil.get("dob") {
            Some(text) => Some(
                cell::date(text, None)
                    .map(|(d, _)| Value::String(d))
                    .map_err(|_| {
                        self.bad_value(pupil.line_of("dob"), "DOB", "a date (expected YYYY-MM-DD)")
                    })?,
            ),
            None => None,
        };
        let sex = match pupil.get("sex").or(pupil.get("gender")) {
            Some(text) => Some(
                cell::sex(text)
                    .map(|(s, _)| Value::String(s.to_owned()))
                    .map_err(|_| {
                        self.bad_value(pupil.line, "Gender", "M, F or another sex code")
                    })?,
            ),
            None => None,
        };
        let attendance = pupil.attendance().map_err(|element| {
            let expected = "at least SessionsAuthorised plus SessionsUnauthorised";
            self.bad_value(pupil.line, element, expected)
        })?;
        let records = pupil.records(&id, self.fields, birth, sex, attendance);
        for (area, record) in records.records {
            self.extract.push(area, record);
        }
        for code in records.unknown_relationships {
            let message = format!("relationship code {code} kept as written");
            self.extract.warnings.push(Warning::at(
                &self.file,
                pupil.line,
                Some("Relationship"),
                message,
            ));
        }
        Ok(())
    }

    fn bad_value(&self, line: u64, column: &str, expected: &str) -> MisError {
        MisError::BadValue {
            file: self.file.clone(),
            line,
            column: column.to_owned(),
            expected: expected.to_owned(),
        }
    }

    fn xml_error(&self, error: quick_xml::Error, offset: u64) -> MisError {
        let reason = match error {
            quick_xml::Error::Io(io) => {
                if let Some(at) = not_utf8_in(&io) {
                    return MisError::NotUtf8 {
                        file: self.file.clone(),
                        line: at.line,
                        offset: at.offset,
                    };
                }
                return MisError::Io {
                    file: self.file.clone(),
                    source: std::io::Error::new(io.kind(), io.to_string()),
                };
            }
            quick_xml::Error::Syntax(e) => format!("not well-formed XML ({e})"),
            quick_xml::Error::IllFormed(e) => format!("not well-formed XML ({e})"),
            _ => "not well-formed XML".to_owned(),
        };
        self.bad(offset, &reason)
    }
}
