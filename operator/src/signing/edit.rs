//! Writing signatures into agreement files without disturbing anything else.
//!
//! A Trust's YAML is written by people and reviewed in pull requests, so `accord sign`
//! changes only the `approval` block of each agreement: comments, order, quoting and
//! every other line stay exactly as they were.

use std::path::Path;

use super::keys::ApproverKey;
use crate::manifest::{Node, NodeValue, parse_documents};
use crate::resources::{DataSharingAgreementSpec, Kind};

/// Why a file's agreements could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The file is not valid YAML.
    #[error("{file}:{line}:{column}: {message}")]
    Yaml {
        /// The file.
        file: String,
        /// Line.
        line: usize,
        /// Column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// An agreement cannot be read, so what it says cannot be signed.
    #[error(
        "{file}:{line}:{column}: agreement {name}: {message}: run `accord validate` and fix it before signing"
    )]
    Unreadable {
        /// The file.
        file: String,
        /// Line.
        line: usize,
        /// Column.
        column: usize,
        /// The agreement.
        name: String,
        /// What is wrong.
        message: String,
    },
}

/// Signs every `DataSharingAgreement` in `text` with `key`, returning the new text and the
/// names of the agreements signed.
pub fn sign_agreements_in_text(
    file: &Path,
    text: &str,
    key: &ApproverKey,
) -> Result<(String, Vec<String>), SignError> {
    let (bom, body) = match text.strip_prefix('\u{feff}') {
        Some(rest) => ("\u{feff}", rest),
        None => ("", text),
    };
    let file_name = file.display().to_string();
    let documents = parse_documents(body).map_err(|e| SignError::Yaml {
        file: file_name.clone(),
        line: e.pos.line,
        column: e.pos.column,
        message: e.message,
    })?;

    let newline = if body.contains("\r\n") { "\r\n" } else { "\n" };
    let mut lines: Vec<String> = body.lines().map(str::to_owned).collect();
    let mut edits = Vec::new();
    let mut signed = Vec::new();

    for document in &documents {
        let root = &document.root;
        if root.get("kind").and_then(Node::as_str) != Some(Kind::DataSharingAgreement.as_str()) {
            continue;
        }
        let (name, spec_node, spec) = read_agreement(&file_name, root)?;
        let approval = key.approve(&name, &spec);
        edits.push(approval_edit(
            &file_name,
            &name,
            &lines,
            root,
            spec_node,
            &approval.key_id,
            &approval.signature,
        )?);
        signed.push(name);
    }

    // Applied bottom-up so earlier line numbers stay true.
    edits.sort_by_key(|e| std::cmp::Reverse(e.first));
    for edit in edits {
        lines.splice(edit.first..edit.end, edit.replacement);
    }

    let mut out = String::from(bom);
    out.push_str(&lines.join(newline));
    if body.ends_with('\n') || body.is_empty() {
        out.push_str(newline);
    }
    Ok((out, signed))
}

/// Replace lines `first..end` (0-based) with `replacement`.
struct Edit {
    first: usize,
    end: usize,
    replacement: Vec<String>,
}

fn read_agreement<'a>(
    file: &str,
    root: &'a Node,
) -> Result<(String, &'a Node, DataSharingAgreementSpec), SignError> {
    let name = root
        .at("/metadata/name")
        .and_then(Node::as_str)
        .unwrap_or("")
        .to_owned();
    let unreadable = |node: &Node, message: String| SignError::Unreadable {
        file: file.to_owned(),
        line: node.pos.line,
        column: node.pos.column,
        name: if name.is_empty() {
            "(unnamed)".to_owned()
        } else {
            name.clone()
        },
        message,
    };
    if name.is_empty() {
        return Err(unreadable(root, "metadata.name is missing".to_owned()));
    }
    let spec_node = root
        .get("spec")
        .ok_or_else(|| unreadable(root, "spec is missing".to_owned()))?;
    let spec: DataSharingAgreementSpec = serde_json::from_value(spec_node.to_json())
        .map_err(|e| unreadable(spec_node, e.to_string()))?;
    Ok((name, spec_node, spec))
}

fn approval_edit(
    file: &str,
    name: &str,
    lines: &[String],
    root: &Node,
    spec_node: &Node,
    key_id: &str,
    signature: &str,
) -> Result<Edit, SignError> {
    let NodeValue::Map(entries) = &spec_node.value else {
        return Err(not_block(file, name, spec_node));
    };
    let Some(first_key) = entries.first() else {
        return Err(not_block(file, name, spec_node));
    };
    let spec_key = root.entry("spec").map_or(spec_node.pos, |e| e.key_pos);
    let spec_key_line = spec_key.line;
    if first_key.key_pos.line == spec_key_line {
        // `spec: {…}` on one line: there is no block to add a key to.
        return Err(not_block(file, name, spec_node));
    }
    let indent = " ".repeat(first_key.key_pos.column - 1);
    let replacement = vec![
        format!("{indent}approval:"),
        format!("{indent}  keyId: {key_id}"),
        format!("{indent}  signature: \"{signature}\""),
    ];

    match entries.iter().find(|e| e.key == "approval") {
        Some(approval) => {
            let first = approval.key_pos.line - 1;
            Ok(Edit {
                first,
                end: block_end(lines, first, indent.len()),
                replacement,
            })
        }
        None => {
            let last = spec_key_line - 1;
            let end = block_end(lines, last, spec_key.column - 1);
            Ok(Edit {
                first: end,
                end,
                replacement,
            })
        }
    }
}

/// The line after the block that starts at line `first` (0-based) and holds lines indented
/// deeper than `indent`, not counting blank lines at its end.
fn block_end(lines: &[String], first: usize, indent: usize) -> usize {
    let mut end = first + 1;
    let mut last_content = first + 1;
    while end < lines.len() {
        let line = &lines[end];
        let trimmed = line.trim_start();
        if trimmed.is_empty() {
            end += 1;
            continue;
        }
        if line.len() - trimmed.len() <= indent
            || line.starts_with("---")
            || line.starts_with("...")
        {
            break;
        }
        end += 1;
        last_content = end;
    }
    last_content
}

fn not_block(file: &str, name: &str, spec: &Node) -> SignError {
    SignError::Unreadable {
        file: file.to_owned(),
        line: spec.pos.line,
        column: spec.pos.column,
        name: name.to_owned(),
        message:
            "spec must be a block mapping (one key per line) for `accord sign` to add its approval"
                .to_owned(),
    }
}
