//! Schema checks against the schemas the CRDs publish.
//!
//! The CRDs' OpenAPI schemas are turned into JSON Schema for the `jsonschema` crate:
//! `nullable` becomes a `null` type, and objects refuse unknown fields (as `kubectl
//! --validate=strict` does) so a misspelt key is an error here, not silently pruned by
//! the apiserver. Error messages are Accord's own, so none repeats a personal value.

use std::collections::BTreeMap;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{ValidationError, Validator};
use serde_json::{Value, json};

use super::finding::Finding;
use crate::catalogue::Area;
use crate::manifest::{Document, Node, NodeValue};
use crate::resources::{API_VERSION, GROUP, Kind};

/// A compiled schema for every Accord kind.
pub struct SchemaSet {
    validators: BTreeMap<Kind, Validator>,
}

impl Default for SchemaSet {
    fn default() -> Self {
        Self::new()
    }
}

impl SchemaSet {
    /// Compiles the schemas of every CRD.
    pub fn new() -> SchemaSet {
        let validators = Kind::ALL
            .into_iter()
            .filter_map(|kind| {
                let schema = SchemaSet::json_schema(kind)?;
                // Generated from our own types: a failure is a bug caught by the tests.
                jsonschema::validator_for(&schema).ok().map(|v| (kind, v))
            })
            .collect();
        SchemaSet { validators }
    }

    /// The JSON Schema `validate` uses for a kind, for tools and tests.
    pub fn json_schema(kind: Kind) -> Option<Value> {
        let crd = crate::crds::all()
            .into_iter()
            .find(|c| c.spec.names.kind == kind.as_str())?;
        let openapi = crd
            .spec
            .versions
            .first()?
            .schema
            .as_ref()?
            .open_api_v3_schema
            .as_ref()?;
        Some(resource_schema(kind, serde_json::to_value(openapi).ok()?))
    }

    /// Checks one document, adding findings; returns its kind when it is an Accord resource.
    pub fn check(&self, doc: &Document, findings: &mut Vec<Finding>) -> Option<Kind> {
        let kind = identify(doc, findings)?;
        let validator = self.validators.get(&kind)?;
        let instance = doc.root.to_json();
        let errors: Vec<_> = validator.iter_errors(&instance).collect();
        // A value of the wrong type also fails its enum or pattern; say only the first.
        let mistyped: std::collections::BTreeSet<String> = errors
            .iter()
            .filter(|e| matches!(e.kind(), ValidationErrorKind::Type { .. }))
            .map(|e| e.instance_path().as_str().to_owned())
            .collect();
        let mut seen = std::collections::BTreeSet::new();
        for error in &errors {
            let typed = matches!(error.kind(), ValidationErrorKind::Type { .. });
            if !typed && mistyped.contains(error.instance_path().as_str()) {
                continue;
            }
            let finding = describe(doc, kind, error);
            if seen.insert((finding.line, finding.column, finding.message.clone())) {
                findings.push(finding);
            }
        }
        Some(kind)
    }
}

/// Works out which Accord kind a document is, reporting documents that are not one.
fn identify(doc: &Document, findings: &mut Vec<Finding>) -> Option<Kind> {
    let root = &doc.root;
    if !matches!(root.value, NodeValue::Map(_)) {
        findings.push(Finding::error(
            &doc.file,
            root.pos,
            "a resource must be a mapping with apiVersion, kind, metadata and spec",
        ));
        return None;
    }
    let api_version = root.get("apiVersion").and_then(Node::as_str);
    let kind = root.get("kind").and_then(Node::as_str);
    let (Some(api_version), Some(kind_name)) = (api_version, kind) else {
        findings.push(Finding::error(&doc.file, root.pos, "a resource needs apiVersion and kind (e.g. apiVersion: accord.dev/v1alpha1, kind: School)"));
        return None;
    };

    let in_group = api_version.split('/').next() == Some(GROUP);
    if !in_group {
        findings.push(Finding::warning(
            &doc.file,
            root.pos,
            format!("{api_version} {kind_name} is not an Accord resource, so it is not checked"),
        ));
        return None;
    }
    let Some(kind) = Kind::from_name(kind_name) else {
        findings.push(Finding::error(
            &doc.file,
            root.locate("/kind"),
            format!("unknown kind \"{kind_name}\": Accord's kinds are School, Partner, DataSharingAgreement, ConsentRule and ErasureRequest"),
        ));
        return None;
    };
    if api_version != API_VERSION {
        findings.push(Finding::error(
            &doc.file,
            root.locate("/apiVersion"),
            format!("apiVersion must be {API_VERSION}"),
        ));
        return None;
    }
    Some(kind)
}

/// The whole-resource schema: the CRD's schema with `apiVersion`, `kind` and `metadata`.
fn resource_schema(kind: Kind, openapi: Value) -> Value {
    let mut schema = to_json_schema(openapi);
    let properties = schema["properties"]
        .as_object_mut()
        .map(std::mem::take)
        .unwrap_or_default();
    let mut all = serde_json::Map::new();
    all.insert(
        "apiVersion".into(),
        json!({ "type": "string", "const": API_VERSION }),
    );
    all.insert(
        "kind".into(),
        json!({ "type": "string", "const": kind.as_str() }),
    );
    all.insert("metadata".into(), metadata_schema());
    all.extend(properties);
    schema["properties"] = Value::Object(all);
    schema["required"] = json!(["apiVersion", "kind", "metadata", "spec"]);
    schema["additionalProperties"] = json!(false);
    schema
}

fn metadata_schema() -> Value {
    let string_map = json!({ "type": "object", "additionalProperties": { "type": "string" } });
    json!({
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": { "type": "string", "maxLength": 63, "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" },
            "namespace": { "type": "string", "maxLength": 63, "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" },
            "labels": string_map,
            "annotations": string_map,
            "generateName": { "type": "string" },
            "uid": { "type": "string" },
            "resourceVersion": { "type": "string" },
            "generation": { "type": "integer" },
            "creationTimestamp": { "type": ["string", "null"] },
            "deletionTimestamp": { "type": ["string", "null"] },
            "deletionGracePeriodSeconds": { "type": "integer" },
            "finalizers": { "type": "array", "items": { "type": "string" } },
            "ownerReferences": { "type": "array" },
            "managedFields": { "type": "array" },
        },
        "additionalProperties": false,
    })
}

/// OpenAPI v3 (as CRDs write it) to JSON Schema 2020-12.
fn to_json_schema(mut value: Value) -> Value {
    let Value::Object(map) = &mut value else {
        return value;
    };
    let nullable = map.remove("nullable").is_some_and(|n| n == json!(true));
    for child in ["items", "additionalProperties"] {
        if let Some(inner) = map.remove(child) {
            map.insert(child.into(), to_json_schema(inner));
        }
    }
    if let Some(Value::Object(properties)) = map.remove("properties") {
        let converted = properties
            .into_iter()
            .map(|(k, v)| (k, to_json_schema(v)))
            .collect();
        map.insert("properties".into(), Value::Object(converted));
        map.entry("additionalProperties").or_insert(json!(false));
    }
    if nullable {
        if let Some(Value::String(t)) = map.get("type").cloned() {
            map.insert("type".into(), json!([t, "null"]));
        }
        if let Some(Value::Array(options)) = map.get_mut("enum") {
            options.push(Value::Null);
        }
    }
    value
}

/// Turns a schema error into a finding at the offending node.
fn describe(doc: &Document, kind: Kind, error: &ValidationError<'_>) -> Finding {
    let pointer = error.instance_path().as_str().to_owned();
    let path = dotted(&pointer);
    let instance = error.instance();
    let at = |pointer: &str| doc.root.locate(pointer);

    let (pos, message) = match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let name = unexpected.first().cloned().unwrap_or_default();
            let known = known_keys(kind, &pointer);
            let hint = if known.is_empty() {
                String::new()
            } else {
                format!(" (expected one of: {})", known.join(", "))
            };
            let pos = doc.root.locate_key(&pointer, &name);
            let place = if path.is_empty() {
                "the resource".to_owned()
            } else {
                path.clone()
            };
            (
                pos,
                format!(
                    "unknown field \"{name}\" in {place}: remove it or correct its spelling{hint}"
                ),
            )
        }
        ValidationErrorKind::Required { property } => {
            let property = property.as_str().unwrap_or_default();
            let place = if path.is_empty() {
                "the resource".to_owned()
            } else {
                path.clone()
            };
            (
                at(&pointer),
                format!("{place} is missing the required field \"{property}\""),
            )
        }
        ValidationErrorKind::Type { kind: expected } => (
            at(&pointer),
            type_message(&path, expected, &doc.root, &pointer),
        ),
        ValidationErrorKind::Enum { options } => (
            at(&pointer),
            enum_message(&pointer, &path, instance, options),
        ),
        ValidationErrorKind::Constant { expected_value } => (
            at(&pointer),
            format!(
                "{path} must be {}",
                expected_value.as_str().unwrap_or_default()
            ),
        ),
        ValidationErrorKind::Pattern { pattern } => (
            at(&pointer),
            pattern_message(&pointer, &path, instance, pattern),
        ),
        ValidationErrorKind::MinLength { limit } => (
            at(&pointer),
            format!("{path} must be at least {limit} characters long"),
        ),
        ValidationErrorKind::MaxLength { limit } => (
            at(&pointer),
            format!("{path} must be at most {limit} characters long"),
        ),
        ValidationErrorKind::MinItems { limit } => (
            at(&pointer),
            format!("{path} must list at least {limit} item(s), or be left out"),
        ),
        ValidationErrorKind::MinProperties { limit } => (
            at(&pointer),
            format!("{path} must have at least {limit} entry(ies)"),
        ),
        _ => (at(&pointer), format!("{path}: {}", error.masked())),
    };
    Finding::error(&doc.file, pos, message)
}

fn type_message(path: &str, expected: &TypeKind, root: &Node, pointer: &str) -> String {
    let expected = match expected {
        TypeKind::Single(t) => t.to_string(),
        TypeKind::Multiple(set) => set
            .iter()
            .map(|t| t.to_string())
            .filter(|t| t != "null")
            .collect::<Vec<_>>()
            .join(" or "),
    };
    let found = match root.at(pointer).map(|n| &n.value) {
        Some(NodeValue::Bool(_)) => "a boolean",
        Some(NodeValue::Int(_)) => "a number",
        Some(NodeValue::Float(_)) => "a number",
        Some(NodeValue::Null) => "empty",
        Some(NodeValue::Str(_)) => "a string",
        Some(NodeValue::Seq(_)) => "a list",
        Some(NodeValue::Map(_)) => "a mapping",
        None => "missing",
    };
    let hint = match (expected.as_str(), found) {
        ("string", "a number") => ": write it in quotes, e.g. \"100000\"",
        ("string", "a boolean") => {
            ": YAML reads unquoted yes/no/on/off/NO as booleans, so write it in quotes, e.g. \"NO\""
        }
        _ => "",
    };
    let article = if expected.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{path} must be {article} {expected}, not {found}{hint}")
}

fn enum_message(pointer: &str, path: &str, instance: &Value, options: &Value) -> String {
    let listed: Vec<String> = options
        .as_array()
        .map(|o| {
            o.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let value = instance
        .as_str()
        .map_or_else(|| instance.to_string(), |s| format!("\"{s}\""));
    let mut tokens = pointer.split('/').skip(1);
    if let (Some("spec"), Some("data"), Some(area), Some(_)) =
        (tokens.next(), tokens.next(), tokens.next(), tokens.next())
        && let Ok(area) = area.parse::<Area>()
    {
        let field = instance.as_str().unwrap_or_default();
        return format!(
            "field \"{area}.{field}\" is not in the data catalogue: the {area} area has {}",
            area.field_names().join(", ")
        );
    }
    if listed.len() > 12 {
        return format!(
            "{path}: {value} is not a valid value (see the CRD's list of {} values)",
            listed.len()
        );
    }
    format!("{path}: {value} is not one of {}", listed.join(", "))
}

fn pattern_message(pointer: &str, path: &str, instance: &Value, pattern: &str) -> String {
    let leaf = pointer
        .rsplit('/')
        .find(|t| t.parse::<usize>().is_err())
        .unwrap_or("");
    let parent = pointer.split('/').rev().nth(1).unwrap_or("");
    let value = instance.as_str().unwrap_or_default();
    match leaf {
        "urn" => format!("{path} must be the school's six-digit URN, e.g. \"100000\""),
        "laEstab" => format!(
            "{path} must be seven digits: the LA number then the establishment number, e.g. \"2024001\""
        ),
        "endpoint" => {
            format!("{path} must be an https:// address: Accord sends data over HTTPS only")
        }
        "privacyContact" => format!("{path} must be an email address, e.g. privacy@vendor.example"),
        "include" | "exclude" | "sourcedId" => format!(
            "{path} must be a MIS sourcedId (letters, digits, '.', '_', ':' or '-', no spaces or '@'): YAML names people by sourcedId only, never by name or email"
        ),
        "validFrom" | "validUntil" | "receivedOn" => {
            format!("{path} must be a date written YYYY-MM-DD")
        }
        "retention" | "every" | "interval" => {
            format!("{path}: \"{value}\" is not a duration: write e.g. 30d, 6h or 1d12h")
        }
        "dailyAt" => {
            format!("{path}: \"{value}\" is not a time: write HH:MM in 24-hour UTC, e.g. 02:30")
        }
        "name" | "namespace" | "partner" | "school" if parent != "secretRef" => format!(
            "{path}: \"{value}\" is not a valid name: use lowercase letters, digits and '-', starting and ending with a letter or digit"
        ),
        "signature" => format!("{path} is not an Ed25519 signature: run `accord sign` to write it"),
        _ => format!("{path}: \"{value}\" does not match the pattern {pattern}"),
    }
}

/// The fields a mapping at `pointer` may have, from the kind's schema.
fn known_keys(kind: Kind, pointer: &str) -> Vec<String> {
    let Some(mut schema) = SchemaSet::json_schema(kind) else {
        return Vec::new();
    };
    for token in pointer.split('/').skip(1) {
        let next = if token.parse::<usize>().is_ok() {
            schema.get("items")
        } else {
            schema.get("properties").and_then(|p| p.get(token))
        };
        match next {
            Some(next) => schema = next.clone(),
            None => return Vec::new(),
        }
    }
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

/// `/spec/data/students/0` as `spec.data.students[0]`.
pub(crate) fn dotted(pointer: &str) -> String {
    let mut out = String::new();
    for token in pointer.split('/').skip(1) {
        if token.parse::<usize>().is_ok() {
            out.push_str(&format!("[{token}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&token.replace("~1", "/").replace("~0", "~"));
        }
    }
    out
}
