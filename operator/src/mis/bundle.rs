//! A OneRoster CSV bundle as a set of named files, from a folder or a zip archive.
//!
//! Zips come from outside the Trust, so they are treated as hostile: entry names that
//! climb out of the archive are refused, and no more than [`MAX_UNPACKED`] bytes are ever
//! unpacked in total, whatever the archive claims its sizes are.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use zip::ZipArchive;

use crate::mis::MisError;

/// The most bytes a zip may unpack to across all the files read from it.
pub const MAX_UNPACKED: u64 = 2 * 1024 * 1024 * 1024;

/// The most entries a zip may have; a OneRoster bundle has about twenty.
const MAX_ENTRIES: usize = 10_000;

/// The longest entry name accepted.
const MAX_NAME: usize = 1024;

/// An open bundle.
pub(crate) enum Bundle {
    /// Files in a folder.
    Folder(PathBuf),
    /// Files in a zip, found by name below a common folder prefix.
    Zip {
        /// The zip's own name, for messages.
        name: String,
        /// The open archive.
        archive: Box<ZipArchive<File>>,
        /// Bundle file name → entry index.
        entries: BTreeMap<String, usize>,
        /// Bytes that may still be unpacked.
        budget: u64,
    },
}

impl Bundle {
    /// Opens a folder, or a file as a zip.
    pub(crate) fn open(path: &Path) -> Result<Bundle, MisError> {
        if path.is_dir() {
            return Ok(Bundle::Folder(path.to_owned()));
        }
        let name = display_name(path);
        let file = File::open(path).map_err(|source| MisError::Io {
            file: name.clone(),
            source,
        })?;
        let archive = ZipArchive::new(file).map_err(|e| MisError::BadZip {
            file: name.clone(),
            reason: format!("not a readable zip archive ({e}); it may be truncated or corrupt"),
        })?;
        let (archive, entries) = index_entries(&name, archive)?;
        Ok(Bundle::Zip {
            name,
            archive: Box::new(archive),
            entries,
            budget: MAX_UNPACKED,
        })
    }

    /// The folder or zip, for messages.
    pub(crate) fn name(&self) -> String {
        match self {
            Bundle::Folder(path) => display_name(path),
            Bundle::Zip { name, .. } => name.clone(),
        }
    }

    /// Whether the bundle has a file of this name.
    pub(crate) fn contains(&self, file: &str) -> bool {
        match self {
            Bundle::Folder(path) => path.join(file).is_file(),
            Bundle::Zip { entries, .. } => entries.contains_key(file),
        }
    }

    /// Opens one file for reading. Errors while reading a zip entry surface as I/O errors
    /// that [`io_error`] turns into a [`MisError`].
    pub(crate) fn read(&mut self, file: &str) -> Result<Box<dyn Read + '_>, MisError> {
        match self {
            Bundle::Folder(path) => {
                let opened = File::open(path.join(file)).map_err(|source| MisError::Io {
                    file: file.to_owned(),
                    source,
                })?;
                Ok(Box::new(opened))
            }
            Bundle::Zip {
                name,
                archive,
                entries,
                budget,
            } => {
                let index = *entries.get(file).ok_or_else(|| MisError::Io {
                    file: file.to_owned(),
                    source: io::Error::from(io::ErrorKind::NotFound),
                })?;
                let entry = archive.by_index(index).map_err(|e| MisError::BadZip {
                    file: name.clone(),
                    reason: format!("entry {file} cannot be unpacked ({e})"),
                })?;
                Ok(Box::new(Capped {
                    inner: entry,
                    budget,
                }))
            }
        }
    }

    /// The zip's name when the bundle is a zip, for errors raised while reading it.
    pub(crate) fn zip_name(&self) -> Option<String> {
        match self {
            Bundle::Folder(_) => None,
            Bundle::Zip { name, .. } => Some(name.clone()),
        }
    }
}

/// The error for an I/O failure while reading `file`, from a zip called `zip` if any.
pub(crate) fn io_error(zip: Option<&str>, file: &str, source: io::Error) -> MisError {
    let Some(zip) = zip else {
        return MisError::Io {
            file: file.to_owned(),
            source,
        };
    };
    let reason = if source.get_ref().is_some_and(|e| e.is::<OverBudget>()) {
        format!("unpacks to more than {MAX_UNPACKED} bytes, refused")
    } else {
        format!("entry {file} is corrupt ({source})")
    };
    MisError::BadZip {
        file: zip.to_owned(),
        reason,
    }
}

/// Lists a zip's entries, refusing unsafe names and archives that claim to be too big.
fn index_entries(
    name: &str,
    mut archive: ZipArchive<File>,
) -> Result<(ZipArchive<File>, BTreeMap<String, usize>), MisError> {
    let bad = |reason: String| MisError::BadZip {
        file: name.to_owned(),
        reason,
    };
    if archive.len() > MAX_ENTRIES {
        return Err(bad(format!("has more than {MAX_ENTRIES} entries, refused")));
    }

    let mut paths = Vec::new();
    let mut declared: u64 = 0;
    for index in 0..archive.len() {
        let entry = archive
            .by_index_raw(index)
            .map_err(|e| bad(format!("entry {index} cannot be read ({e})")))?;
        let raw = entry.name().map(|n| n.into_owned()).unwrap_or_default();
        let safe = entry
            .enclosed_name()
            .filter(|_| raw.len() <= MAX_NAME && !raw.contains('\\'));
        let Some(path) = safe else {
            return Err(bad(format!(
                "entry {index} has an unsafe name (absolute or ../), refused"
            )));
        };
        declared = declared.saturating_add(entry.size());
        if !entry.is_dir() {
            paths.push((path.to_string_lossy().replace('\\', "/"), index));
        }
    }
    if declared > MAX_UNPACKED {
        return Err(bad(format!(
            "claims to unpack to more than {MAX_UNPACKED} bytes, refused"
        )));
    }

    // Exporters often wrap the bundle in one folder: files are named relative to the
    // folder that holds manifest.csv.
    let prefix = paths
        .iter()
        .map(|(p, _)| p.as_str())
        .filter(|p| *p == "manifest.csv" || p.ends_with("/manifest.csv"))
        .min_by_key(|p| p.len())
        .map(|p| p.trim_end_matches("manifest.csv").to_owned())
        .unwrap_or_default();
    let entries = paths
        .into_iter()
        .filter_map(|(path, index)| {
            let inside = path.strip_prefix(&prefix)?;
            (!inside.contains('/')).then(|| (inside.to_owned(), index))
        })
        .collect();
    Ok((archive, entries))
}

fn display_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// The marker error for a zip that unpacks past its budget.
#[derive(Debug)]
struct OverBudget;

impl std::fmt::Display for OverBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("unpacked size limit reached")
    }
}

impl std::error::Error for OverBudget {}

/// Counts unpacked bytes against the bundle's budget and stops when it runs out.
struct Capped<'b, R> {
    inner: R,
    budget: &'b mut u64,
}

impl<R: Read> Read for Capped<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        *self.budget = self
            .budget
            .checked_sub(n as u64)
            .ok_or_else(|| io::Error::other(OverBudget))?;
        Ok(n)
    }
}
