//! Reading a Trust's YAML: files and folders into positioned documents.
//!
//! Everything that reads resources from disk (`validate`, `plan`, `run`, `sign`) comes
//! through here, so every one of them refuses the same bad input with the same message.

mod node;
mod parse;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use node::{Entry, Node, NodeValue, Pos};
pub use parse::{MAX_ALIAS_NODES, MAX_DEPTH, ParseError, ParsedDocument, parse_documents};

/// The largest YAML file Accord reads. Kubernetes objects are at most about 1.5 MiB, so a
/// larger file is a mistake (a data export saved as `.yaml`, say), not a Trust's resources.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// One YAML document and the file it came from.
#[derive(Clone, Debug)]
pub struct Document {
    /// The file.
    pub file: Arc<Path>,
    /// The document's index within the file, from 0.
    pub index: usize,
    /// The document's content.
    pub root: Node,
}

/// A file that could not be read as YAML.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    /// The file.
    pub file: PathBuf,
    /// Where in the file, when known.
    pub pos: Pos,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// What reading some paths produced: the documents, and the files that failed.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Every document read, in path order.
    pub documents: Vec<Document>,
    /// Every file that could not be read.
    pub errors: Vec<LoadError>,
}

/// Reads every YAML file named, or found under a named folder.
///
/// Folders are walked in name order; hidden entries (`.git`, `.github`) are passed over,
/// and only `*.yaml` and `*.yml` files are read.
pub fn load_paths(paths: &[PathBuf]) -> Loaded {
    let mut loaded = Loaded::default();
    for path in paths {
        match yaml_files(path) {
            Ok(files) => {
                for file in files {
                    load_file(&file, &mut loaded);
                }
            }
            Err(error) => loaded.errors.push(LoadError {
                file: path.clone(),
                pos: Pos { line: 1, column: 1 },
                message: format!("cannot read: {error}"),
            }),
        }
    }
    loaded
}

/// Reads one file's documents into `loaded`.
pub fn load_file(file: &Path, loaded: &mut Loaded) {
    match read_text(file).and_then(|text| parse_text(file, &text)) {
        Ok(documents) => loaded.documents.extend(documents),
        Err(error) => loaded.errors.push(error),
    }
}

/// Reads a file's text, refusing files too large to be resources and files that are not
/// UTF-8 text.
pub fn read_text(file: &Path) -> Result<String, LoadError> {
    let start = Pos { line: 1, column: 1 };
    let error = |pos, message: String| LoadError {
        file: file.to_owned(),
        pos,
        message,
    };

    let size = std::fs::metadata(file)
        .map_err(|e| error(start, format!("cannot read: {e}")))?
        .len();
    if size > MAX_FILE_BYTES {
        return Err(error(
            start,
            format!(
                "file is {:.1} MiB, larger than the {} MiB Accord reads: resource files are small, \
                 so split it or check it is the file you meant",
                size as f64 / (1024.0 * 1024.0),
                MAX_FILE_BYTES / (1024 * 1024)
            ),
        ));
    }

    let bytes = std::fs::read(file).map_err(|e| error(start, format!("cannot read: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        error(
            position_of(e.as_bytes(), valid),
            "file is not UTF-8 text: save it as UTF-8 YAML".to_owned(),
        )
    })?;
    if let Some(offset) = text.find('\0') {
        return Err(error(
            position_of(text.as_bytes(), offset),
            "file contains a NUL byte, so it is binary, not YAML".to_owned(),
        ));
    }
    Ok(text)
}

/// Parses a file's text into documents.
pub fn parse_text(file: &Path, text: &str) -> Result<Vec<Document>, LoadError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let file: Arc<Path> = Arc::from(file);
    let parsed = parse_documents(text).map_err(|e| LoadError {
        file: file.to_path_buf(),
        pos: e.pos,
        message: e.message,
    })?;
    if parsed.is_empty() {
        return Err(LoadError {
            file: file.to_path_buf(),
            pos: Pos { line: 1, column: 1 },
            message: "file has no YAML documents: add a resource or delete the file".to_owned(),
        });
    }
    Ok(parsed
        .into_iter()
        .enumerate()
        .map(|(index, doc)| Document {
            file: file.clone(),
            index,
            root: doc.root,
        })
        .collect())
}

/// The YAML files a path names: itself, or those under it.
fn yaml_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        std::fs::metadata(path)?;
        return Ok(vec![path.to_owned()]);
    }
    let mut files = Vec::new();
    let mut pending = vec![path.to_owned()];
    while let Some(dir) = pending.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        let mut subdirs = Vec::new();
        for entry in entries {
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let entry_path = entry.path();
            if entry.file_type()?.is_dir() {
                subdirs.push(entry_path);
            } else if is_yaml(&entry_path) {
                files.push(entry_path);
            }
        }
        // Reversed so the stack visits subfolders in name order.
        pending.extend(subdirs.into_iter().rev());
    }
    files.sort();
    Ok(files)
}

fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

/// The line and column of a byte offset.
fn position_of(bytes: &[u8], offset: usize) -> Pos {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    Pos { line, column }
}

#[cfg(test)]
mod tests;
