//! The canonical form of an agreement: the bytes an approver signs.
//!
//! It is compact JSON with object keys in byte order, of
//! `{"apiVersion", "kind", "name", "spec"}`, where `spec` is the agreement's spec as Accord
//! reads it (empty lists, absent options and defaults left out) without `approval` (the
//! signature itself) and without `suspend` (which only ever stops flows, so needs no
//! approver). Reading first and serialising after means that YAML layout, comments, key
//! order and quoting never change the signature, while any change of meaning does.

use serde_json::Value;

use crate::resources::{API_VERSION, DataSharingAgreementSpec};

/// The canonical JSON value of the agreement `name`.
pub fn canonical_json(name: &str, spec: &DataSharingAgreementSpec) -> Value {
    let signed = DataSharingAgreementSpec {
        approval: None,
        suspend: false,
        ..spec.clone()
    };
    let spec = serde_json::to_value(signed).unwrap_or(Value::Null);
    serde_json::json!({
        "apiVersion": API_VERSION,
        "kind": "DataSharingAgreement",
        "name": name,
        "spec": spec,
    })
}

/// The canonical bytes of the agreement `name`: what is signed and verified.
pub fn canonical_bytes(name: &str, spec: &DataSharingAgreementSpec) -> Vec<u8> {
    let mut out = Vec::new();
    write_canonical(&canonical_json(name, spec), &mut out);
    out
}

// Sorted explicitly rather than trusting the map type, so a dependency that turns on
// serde_json's `preserve_order` can never change what is signed.
fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_scalar(&Value::String(key.clone()), out);
                out.push(b':');
                write_canonical(&map[key], out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => write_scalar(scalar, out),
    }
}

fn write_scalar(value: &Value, out: &mut Vec<u8>) {
    // serde_json writes scalars compactly and escapes strings minimally and stably.
    out.extend_from_slice(value.to_string().as_bytes());
}

/// Where two canonical forms differ, as dotted paths (`spec.data.students`), sorted: what
/// an approver would have to look at again.
pub fn changed_paths(signed: &Value, now: &Value) -> Vec<String> {
    let mut paths = Vec::new();
    diff(signed, now, String::new(), &mut paths);
    paths
}

fn diff(a: &Value, b: &Value, path: String, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                let here = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => diff(x, y, here, out),
                    _ => out.push(here),
                }
            }
        }
        _ if a != b => out.push(path),
        _ => {}
    }
}
