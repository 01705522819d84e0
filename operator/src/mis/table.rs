//! One CSV file of a bundle read row by row, with its header mapped to the columns the
//! standard names.
//!
//! Real exports differ from the standard in small ways this module absorbs, each with a
//! warning: a byte-order mark, CRLF line ends, misspelt headers (`dataLastModified`,
//! `preffered...`), headers in the wrong letter case, unknown extension columns, trailing
//! blank header columns and short rows. Anything that could change what a row means
//! (extra non-blank cells, bytes that are not UTF-8) fails the read instead.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Read;
use std::rc::Rc;

use csv::StringRecord;

use crate::mis::bundle::io_error;
use crate::mis::cell::CellProblem;
use crate::mis::encoding::{Lines, Utf8Only, not_utf8_in};
use crate::mis::{MisError, Warning};

/// An open CSV file positioned after its header.
pub(crate) struct Table<'r> {
    file: String,
    zip: Option<String>,
    reader: csv::Reader<Utf8Only<Box<dyn Read + 'r>>>,
    lines: Rc<RefCell<Lines>>,
    columns: BTreeMap<&'static str, usize>,
    width: usize,
    header_line: u64,
    warned_blank_extra: bool,
}

impl<'r> Table<'r> {
    /// Reads the header of `file` and maps it onto `known` column names.
    pub(crate) fn open(
        file: &str,
        zip: Option<String>,
        input: Box<dyn Read + 'r>,
        known: &[&'static str],
        warnings: &mut Vec<Warning>,
    ) -> Result<Self, MisError> {
        let checked = Utf8Only::new(input);
        let lines = checked.lines();
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(checked);
        let mut table = Table {
            file: file.to_owned(),
            zip,
            reader,
            lines,
            columns: BTreeMap::new(),
            width: 0,
            header_line: 1,
            warned_blank_extra: false,
        };

        let mut header = StringRecord::new();
        let Some(line) = table.read_raw(&mut header)? else {
            return Ok(table);
        };
        table.header_line = line;
        table.width = header.len();
        table.map_header(&header, known, warnings);
        Ok(table)
    }

    /// The file's name inside the bundle.
    pub(crate) fn file(&self) -> &str {
        &self.file
    }

    /// Whether the header has this column.
    pub(crate) fn has(&self, column: &str) -> bool {
        self.columns.contains_key(column)
    }

    /// Fails unless the header has this column.
    pub(crate) fn require(&self, column: &'static str) -> Result<(), MisError> {
        if self.has(column) {
            return Ok(());
        }
        Err(MisError::MissingColumn {
            file: self.file.clone(),
            line: self.header_line,
            column,
        })
    }

    /// Reads the next row that has any non-blank cell; returns its first line.
    pub(crate) fn next_row(
        &mut self,
        record: &mut StringRecord,
        warnings: &mut Vec<Warning>,
    ) -> Result<Option<u64>, MisError> {
        loop {
            let Some(line) = self.read_raw(record)? else {
                return Ok(None);
            };
            if record.iter().all(|cell| cell.trim().is_empty()) {
                continue;
            }
            self.check_width(record, line, warnings)?;
            return Ok(Some(line));
        }
    }

    /// A row's cell in `column`, trimmed; `None` when blank or the column is absent.
    pub(crate) fn cell<'a>(&self, record: &'a StringRecord, column: &str) -> Option<&'a str> {
        let index = *self.columns.get(column)?;
        record.get(index).map(str::trim).filter(|s| !s.is_empty())
    }

    /// The error for a cell that could not be read, naming file, line and column only.
    pub(crate) fn bad_cell(&self, line: u64, column: &str, problem: CellProblem) -> MisError {
        match problem {
            CellProblem::Not(expected) => MisError::BadValue {
                file: self.file.clone(),
                line,
                column: column.to_owned(),
                expected: expected.to_owned(),
            },
            CellProblem::AmbiguousDate => MisError::AmbiguousDate {
                file: self.file.clone(),
                line,
                column: column.to_owned(),
            },
        }
    }

    /// Reads one record and returns the line it starts on.
    fn read_raw(&mut self, record: &mut StringRecord) -> Result<Option<u64>, MisError> {
        if !self
            .reader
            .read_record(record)
            .map_err(|e| self.csv_error(e))?
        {
            return Ok(None);
        }
        // The parser stops right after a record's last byte (or its LF): that byte's
        // line, less the line breaks inside quoted cells, is where the record starts.
        let last_byte = self.reader.position().byte().saturating_sub(1);
        let end_line = self.lines.borrow_mut().line_of(last_byte);
        let inside = record
            .iter()
            .map(|cell| cell.matches('\n').count() as u64)
            .sum::<u64>();
        Ok(Some(end_line.saturating_sub(inside).max(1)))
    }

    fn csv_error(&self, error: csv::Error) -> MisError {
        let line = error.position().map(|p| p.line()).unwrap_or(0);
        match error.into_kind() {
            csv::ErrorKind::Io(source) => match not_utf8_in(&source) {
                Some(at) => MisError::NotUtf8 {
                    file: self.file.clone(),
                    line: at.line,
                    offset: at.offset,
                },
                None => io_error(self.zip.as_deref(), &self.file, source),
            },
            csv::ErrorKind::Utf8 { .. } => MisError::NotUtf8 {
                file: self.file.clone(),
                line,
                offset: 0,
            },
            _ => MisError::BadValue {
                file: self.file.clone(),
                line,
                column: "(row)".to_owned(),
                expected: "a CSV row (check its quotes)".to_owned(),
            },
        }
    }

    fn map_header(
        &mut self,
        header: &StringRecord,
        known: &[&'static str],
        warnings: &mut Vec<Warning>,
    ) {
        let line = self.header_line;
        let mut unknown = Vec::new();
        for (index, raw) in header.iter().enumerate() {
            let name = raw.trim_start_matches('\u{feff}').trim();
            if name.is_empty() {
                continue;
            }
            let exact = known.iter().find(|k| **k == name);
            let repaired = exact.or_else(|| {
                let fixed = repair(name);
                known.iter().find(|k| k.eq_ignore_ascii_case(&fixed))
            });
            let Some(canonical) = repaired.copied() else {
                // Extensions are allowed by the standard; only other names are odd.
                if !name.starts_with("metadata.") {
                    unknown.push(name.to_owned());
                }
                continue;
            };
            if canonical != name {
                let message = format!("header \"{name}\" read as {canonical}");
                warnings.push(Warning::at(&self.file, line, Some(name), message));
            }
            if self.columns.contains_key(canonical) {
                let message = format!("second {canonical} column ignored; the first is read");
                warnings.push(Warning::at(&self.file, line, Some(name), message));
                continue;
            }
            self.columns.insert(canonical, index);
        }
        if !unknown.is_empty() {
            let message = format!(
                "columns not in the standard ignored: {}",
                unknown.join(", ")
            );
            warnings.push(Warning::at(&self.file, line, None, message));
        }
    }

    fn check_width(
        &mut self,
        record: &StringRecord,
        line: u64,
        warnings: &mut Vec<Warning>,
    ) -> Result<(), MisError> {
        let extra = record.iter().skip(self.width);
        let mut extra_count = 0;
        for cell in extra {
            extra_count += 1;
            if !cell.trim().is_empty() {
                return Err(MisError::TooManyCells {
                    file: self.file.clone(),
                    line,
                    found: record.len(),
                    expected: self.width,
                });
            }
        }
        if extra_count > 0 && !self.warned_blank_extra {
            self.warned_blank_extra = true;
            let message = "blank cells past the last header column ignored (this and later rows)";
            warnings.push(Warning::at(&self.file, line, None, message));
        }
        Ok(())
    }
}

/// Spellings seen in real exports, mapped to the standard's.
fn repair(name: &str) -> String {
    name.replace("preffered", "preferred")
        .replace("Preffered", "Preferred")
        .replace("dataLastModified", "dateLastModified")
}
