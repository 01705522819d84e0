//! One served JSON record, read leniently where real servers differ: strings, numbers or
//! booleans for scalars, arrays or comma-separated strings for lists, references as
//! `{sourcedId}` objects or plain strings, and `metadata` flat (`"uk.upn"`) or nested.

use serde_json::{Map, Value};

use crate::mis::cell::{self, CellProblem, Status};
use crate::mis::rest::error::{RestError, RestErrorKind};
use crate::mis::rest::records::Collection;

/// One record being read, for values and errors that name it.
pub(crate) struct Item<'r> {
    pub path: &'r str,
    pub position: u64,
    pub id: String,
    pub json: &'r Map<String, Value>,
}

impl<'r> Item<'r> {
    /// The records of a collection, each with its `sourcedId`, which must be present.
    pub(crate) fn all(
        path: &'r str,
        collection: &'r Collection,
    ) -> impl Iterator<Item = Result<Item<'r>, RestError>> {
        collection
            .records
            .iter()
            .enumerate()
            .map(move |(index, json)| {
                let position = index as u64 + 1;
                let mut item = Item {
                    path,
                    position,
                    id: String::new(),
                    json,
                };
                match item.text("sourcedId") {
                    Some(id) => {
                        item.id = id;
                        Ok(item)
                    }
                    None => Err(item.bad(
                        "sourcedId",
                        CellProblem::Not("present; every record needs one"),
                    )),
                }
            })
    }

    /// A scalar as text, trimmed; `None` when missing, null or blank.
    pub(crate) fn text(&self, key: &str) -> Option<String> {
        scalar(self.json.get(key)?)
    }

    /// A scalar as a JSON string value.
    pub(crate) fn string(&self, key: &str) -> Option<Value> {
        self.text(key).map(Value::String)
    }

    /// An extension value, from `metadata` written flat (`"uk.upn"`) or nested.
    pub(crate) fn meta(&self, key: &str) -> Option<String> {
        let metadata = self.json.get("metadata")?.as_object()?;
        if let Some(value) = metadata.get(key).and_then(scalar) {
            return Some(value);
        }
        let (outer, inner) = key.split_once('.')?;
        scalar(metadata.get(outer)?.as_object()?.get(inner)?)
    }

    /// A list from an array of strings or a comma-separated string; `None` when empty.
    pub(crate) fn list(&self, key: &str) -> Option<Vec<String>> {
        let items = match self.json.get(key)? {
            Value::Array(items) => items.iter().filter_map(scalar).collect(),
            Value::String(text) => cell::list(text),
            _ => Vec::new(),
        };
        (!items.is_empty()).then_some(items)
    }

    /// The identifiers of references (`{sourcedId}` objects or plain strings).
    pub(crate) fn refs(&self, key: &str) -> Option<Vec<String>> {
        let ids = match self.json.get(key)? {
            Value::Array(items) => items.iter().filter_map(reference).collect(),
            Value::String(text) => cell::list(text),
            other => reference(other).into_iter().collect(),
        };
        (!ids.is_empty()).then_some(ids)
    }

    /// The record's status; a missing one means active.
    pub(crate) fn status(&self) -> Result<Status, RestError> {
        Status::read(self.text("status").as_deref()).map_err(|p| self.bad("status", p))
    }

    /// The error for a field that could not be read.
    pub(crate) fn bad(&self, field: &'static str, problem: CellProblem) -> RestError {
        let expected = match problem {
            CellProblem::Not(expected) => expected.to_owned(),
            CellProblem::AmbiguousDate => "an unambiguous date (write YYYY-MM-DD)".to_owned(),
        };
        let kind = RestErrorKind::BadValue {
            position: self.position,
            sourced_id: self.id.clone(),
            field,
            expected,
        };
        RestError::new(self.path, kind)
    }
}

fn scalar(value: &Value) -> Option<String> {
    let text = match value {
        Value::String(text) => text.trim().to_owned(),
        Value::Number(number) => number.to_string(),
        Value::Bool(flag) => flag.to_string(),
        _ => return None,
    };
    (!text.is_empty()).then_some(text)
}

fn reference(value: &Value) -> Option<String> {
    match value {
        Value::Object(object) => scalar(object.get("sourcedId")?),
        other => scalar(other),
    }
}
