//! Label selectors, as Kubernetes evaluates them, for agreements that pick schools by label.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// Whether `selector` selects an object with `labels`.
///
/// An empty selector selects everything, as in Kubernetes. An operator Accord does not
/// know selects nothing, so a typo can never widen a flow.
pub fn selects(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let labels_match = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(key, value)| labels.get(key) == Some(value));
    let expressions_match = selector.match_expressions.iter().flatten().all(|expr| {
        let value = labels.get(&expr.key);
        let values = expr.values.as_deref().unwrap_or_default();
        match expr.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => false,
        }
    });
    labels_match && expressions_match
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn expression(key: &str, operator: &str, values: &[&str]) -> LabelSelector {
        LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: key.into(),
                operator: operator.into(),
                values: Some(values.iter().map(|v| v.to_string()).collect()),
            }]),
            match_labels: None,
        }
    }

    #[test]
    fn match_labels_need_every_pair() {
        let selector = LabelSelector {
            match_labels: Some(labels(&[("phase", "primary")])),
            match_expressions: None,
        };
        assert!(selects(
            &selector,
            &labels(&[("phase", "primary"), ("la", "202")])
        ));
        assert!(!selects(&selector, &labels(&[("phase", "secondary")])));
    }

    #[test]
    fn expressions_follow_kubernetes() {
        let school = labels(&[("phase", "primary")]);
        assert!(selects(
            &expression("phase", "In", &["primary", "all-through"]),
            &school
        ));
        assert!(!selects(
            &expression("phase", "NotIn", &["primary"]),
            &school
        ));
        assert!(selects(
            &expression("sixth-form", "DoesNotExist", &[]),
            &school
        ));
        assert!(!selects(
            &expression("phase", "Sometimes", &["primary"]),
            &school
        ));
    }
}
