//! A finding: one problem at one place in one file, and the forms it is printed in.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::manifest::Pos;

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The resources must not be applied.
    Error,
    /// Worth a look; does not fail validation.
    Warning,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One problem, where it is, and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The file.
    pub file: PathBuf,
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong and how to fix it. Never contains personal data.
    pub message: String,
    /// Whether this is about an agreement's approval signature. The controller does not
    /// refuse a declaration for it: it applies the rest and stops that agreement's flows.
    pub approval: bool,
}

impl Finding {
    /// An error at `pos` in `file`.
    pub fn error(file: &Path, pos: Pos, message: impl Into<String>) -> Finding {
        Finding::new(file, pos, Severity::Error, message.into())
    }

    /// A warning at `pos` in `file`.
    pub fn warning(file: &Path, pos: Pos, message: impl Into<String>) -> Finding {
        Finding::new(file, pos, Severity::Warning, message.into())
    }

    fn new(file: &Path, pos: Pos, severity: Severity, message: String) -> Finding {
        Finding {
            file: file.to_owned(),
            line: pos.line,
            column: pos.column,
            severity,
            message,
            approval: false,
        }
    }

    /// Marks the finding as about an approval signature.
    pub fn about_approval(mut self) -> Finding {
        self.approval = true;
        self
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Finding {
            file,
            line,
            column,
            severity,
            message,
            ..
        } = self;
        write!(
            f,
            "{}:{line}:{column}: {}: {message}",
            file.display(),
            severity.as_str()
        )
    }
}

/// How findings are printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// `file:line:column: severity: message`, one per line.
    #[default]
    Text,
    /// A JSON array of findings, for tools.
    Json,
    /// GitHub Actions workflow commands, shown as annotations on the pull request.
    Github,
}

/// Renders findings in the chosen format.
pub fn render(findings: &[Finding], format: OutputFormat) -> String {
    match format {
        OutputFormat::Text => findings.iter().map(|f| format!("{f}\n")).collect(),
        OutputFormat::Json => {
            let mut out =
                serde_json::to_string_pretty(findings).unwrap_or_else(|_| "[]".to_owned());
            out.push('\n');
            out
        }
        OutputFormat::Github => {
            let mut out = String::new();
            for f in findings {
                let _ = writeln!(
                    out,
                    "::{} file={},line={},col={}::{}",
                    f.severity.as_str(),
                    escape_property(&f.file.display().to_string()),
                    f.line,
                    f.column,
                    escape_data(&f.message)
                );
            }
            out
        }
    }
}

// GitHub's workflow command syntax reserves these characters.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}
