//! The committed CRDs are what the types generate, and every one is structural.

use std::path::Path;

use serde_json::Value;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("operator/ sits in the repository")
}

#[test]
fn committed_crds_are_not_stale() {
    for crd in accord::crds::all() {
        let path = repo().join("crds").join(accord::crds::file_name(&crd));
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            committed,
            accord::crds::render(&crd).unwrap(),
            "{} is stale: run `cargo run -- crds --out crds/` and commit the result",
            path.display()
        );
    }
}

#[test]
fn every_crd_is_structural() {
    for crd in accord::crds::all() {
        let version = &crd.spec.versions[0];
        let schema =
            serde_json::to_value(&version.schema.as_ref().unwrap().open_api_v3_schema).unwrap();
        let mut untyped = Vec::new();
        walk(&schema, "", &mut untyped);
        assert!(
            untyped.is_empty(),
            "{}: schemas without type at {untyped:?}",
            crd.spec.names.kind
        );
        assert!(
            version
                .subresources
                .as_ref()
                .and_then(|s| s.status.as_ref())
                .is_some()
        );
        assert_eq!(
            crd.spec.names.categories.as_deref(),
            Some(&["accord".to_owned()][..])
        );
        assert!(
            crd.spec
                .names
                .short_names
                .as_ref()
                .is_some_and(|s| !s.is_empty())
        );
    }
}

#[test]
fn printer_columns_lead_with_ready_and_reason() {
    for crd in accord::crds::all() {
        let columns = crd.spec.versions[0]
            .additional_printer_columns
            .as_ref()
            .unwrap();
        let names: Vec<_> = columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(&names[..2], ["Ready", "Reason"], "{}", crd.spec.names.kind);
    }
}

/// Every schema node must say its type, except those Kubernetes exempts:
/// `x-kubernetes-int-or-string` and `x-kubernetes-preserve-unknown-fields`.
fn walk(schema: &Value, at: &str, untyped: &mut Vec<String>) {
    let Some(map) = schema.as_object() else {
        return;
    };
    let exempt = map.contains_key("x-kubernetes-int-or-string")
        || map.contains_key("x-kubernetes-preserve-unknown-fields");
    if !map.contains_key("type") && !exempt {
        untyped.push(at.to_owned());
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        assert!(
            !map.contains_key(key) || at.is_empty(),
            "{key} at {at} is not structural without care"
        );
    }
    if let Some(Value::Object(properties)) = map.get("properties") {
        for (name, child) in properties {
            walk(child, &format!("{at}.{name}"), untyped);
        }
    }
    if let Some(items) = map.get("items") {
        walk(items, &format!("{at}[]"), untyped);
    }
    if let Some(additional @ Value::Object(_)) = map.get("additionalProperties") {
        walk(additional, &format!("{at}{{}}"), untyped);
    }
}
