//! What can go wrong reading an MIS export, and what was accepted with a caveat.
//!
//! Every message names the file and, where there is one, the line and column, and says
//! what to fix. No message ever holds a cell's value: a school's IT team reads these in
//! logs and CI output, so a name or a date of birth must never reach them. A row's
//! `sourcedId` may appear, since it is how the MIS names the row.

use std::fmt;
use std::io;

use serde::Serialize;

/// Something the reader accepted although the standard does not allow it, and how.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// The file inside the export, e.g. `users.csv`.
    pub file: String,
    /// The line the warning is about, when it is about one line.
    pub line: Option<u64>,
    /// The column or element the warning is about, when it is about one.
    pub column: Option<String>,
    /// What was accepted and how it was read.
    pub message: String,
}

impl Warning {
    /// A warning about a whole file.
    pub fn file(file: &str, message: impl Into<String>) -> Self {
        Warning {
            file: file.to_owned(),
            line: None,
            column: None,
            message: message.into(),
        }
    }

    /// A warning about one line, and perhaps one column, of a file.
    pub fn at(file: &str, line: u64, column: Option<&str>, message: impl Into<String>) -> Self {
        Warning {
            file: file.to_owned(),
            line: Some(line),
            column: column.map(str::to_owned),
            message: message.into(),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(column) = &self.column {
            write!(f, ": column {column}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A reason the whole read failed. The export must be fixed and read again.
#[derive(Debug, thiserror::Error)]
pub enum MisError {
    /// A file could not be opened or read.
    #[error("{file}: cannot be read ({source}); check that it exists and can be read")]
    Io {
        /// The file.
        file: String,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },

    /// The bundle has no `manifest.csv`.
    #[error("{bundle}: manifest.csv is missing; a OneRoster CSV bundle needs one at its top")]
    MissingManifest {
        /// The folder or zip.
        bundle: String,
    },

    /// A manifest property has a value the reader cannot use.
    #[error("manifest.csv:{line}: {property} is \"{value}\"; expected {expected}")]
    BadManifest {
        /// The manifest line.
        line: u64,
        /// The property, e.g. `oneroster.version`.
        property: String,
        /// The value found (manifest values are never personal data).
        value: String,
        /// What the value may be.
        expected: &'static str,
    },

    /// The manifest names a file the bundle does not have.
    #[error(
        "manifest.csv:{line}: {property} is {mode} but {file} is not in the bundle; \
         add the file or mark it absent"
    )]
    ManifestFileMissing {
        /// The manifest line.
        line: u64,
        /// The property, e.g. `file.users`.
        property: String,
        /// `bulk` or `delta`.
        mode: &'static str,
        /// The missing file.
        file: String,
    },

    /// A column the reader needs is not in the header.
    #[error("{file}:{line}: required column {column} is missing from the header; add it")]
    MissingColumn {
        /// The file.
        file: String,
        /// The header line (1 unless blank lines precede it).
        line: u64,
        /// The column.
        column: &'static str,
    },

    /// The file is not UTF-8.
    #[error("{file}:{line}: byte offset {offset} is not UTF-8; export the file again as UTF-8")]
    NotUtf8 {
        /// The file.
        file: String,
        /// The line holding the bad byte.
        line: u64,
        /// The bad byte's offset from the start of the file.
        offset: u64,
    },

    /// A row has more (non-blank) cells than the header has columns.
    #[error(
        "{file}:{line}: row has {found} cells but the header has {expected} columns; \
         quote cells that contain commas"
    )]
    TooManyCells {
        /// The file.
        file: String,
        /// The row's first line.
        line: u64,
        /// Cells in the row.
        found: usize,
        /// Columns in the header.
        expected: usize,
    },

    /// Two rows of one file share a `sourcedId`.
    #[error(
        "{file}:{line}: sourcedId {sourced_id} is also used at line {first_line}; \
         every row needs its own sourcedId"
    )]
    DuplicateSourcedId {
        /// The file.
        file: String,
        /// The second row's line.
        line: u64,
        /// The first row's line.
        first_line: u64,
        /// The repeated identifier.
        sourced_id: String,
    },

    /// A cell or element does not hold the kind of value its column needs.
    #[error("{file}:{line}: column {column} is not {expected}")]
    BadValue {
        /// The file.
        file: String,
        /// The line.
        line: u64,
        /// The column or element name.
        column: String,
        /// What it should be and how to fix it.
        expected: String,
    },

    /// A date whose day and month could be either way round.
    #[error(
        "{file}:{line}: column {column} holds a date that reads both day-first and \
         month-first; export dates as YYYY-MM-DD or set the date order"
    )]
    AmbiguousDate {
        /// The file.
        file: String,
        /// The line.
        line: u64,
        /// The column.
        column: String,
    },

    /// The zip archive is truncated, corrupt or unsafe.
    #[error("{file}: {reason}; export the bundle again")]
    BadZip {
        /// The zip file.
        file: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The XML is not well formed, or is not a Common Transfer File.
    #[error("{file}:{line}: {reason}")]
    BadXml {
        /// The file.
        file: String,
        /// The line of the problem.
        line: u64,
        /// What is wrong and what to do.
        reason: String,
    },
}

impl MisError {
    /// The file inside the export (or the export itself) that the error is about.
    pub fn file(&self) -> &str {
        match self {
            MisError::Io { file, .. }
            | MisError::NotUtf8 { file, .. }
            | MisError::MissingColumn { file, .. }
            | MisError::TooManyCells { file, .. }
            | MisError::DuplicateSourcedId { file, .. }
            | MisError::BadValue { file, .. }
            | MisError::AmbiguousDate { file, .. }
            | MisError::BadZip { file, .. }
            | MisError::BadXml { file, .. }
            | MisError::ManifestFileMissing { file, .. } => file,
            MisError::MissingManifest { bundle } => bundle,
            MisError::BadManifest { .. } => "manifest.csv",
        }
    }

    /// The line the error is about, when it is about one.
    pub fn line(&self) -> Option<u64> {
        match self {
            MisError::BadManifest { line, .. }
            | MisError::ManifestFileMissing { line, .. }
            | MisError::MissingColumn { line, .. }
            | MisError::NotUtf8 { line, .. }
            | MisError::TooManyCells { line, .. }
            | MisError::DuplicateSourcedId { line, .. }
            | MisError::BadValue { line, .. }
            | MisError::AmbiguousDate { line, .. }
            | MisError::BadXml { line, .. } => Some(*line),
            MisError::Io { .. } | MisError::MissingManifest { .. } | MisError::BadZip { .. } => {
                None
            }
        }
    }

    /// The column or element the error is about, when it is about one.
    pub fn column(&self) -> Option<&str> {
        match self {
            MisError::MissingColumn { column, .. } => Some(column),
            MisError::BadValue { column, .. } | MisError::AmbiguousDate { column, .. } => {
                Some(column)
            }
            _ => None,
        }
    }
}
