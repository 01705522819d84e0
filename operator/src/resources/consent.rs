//! `ConsentRule`: who, at one school, is included in or excluded from which flows.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::shared::{SOURCED_ID_PATTERN, SourcedId};

/// People to include (for opt-in agreements) and exclude, at one school, for a scope.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "accord.dev",
    version = "v1alpha1",
    kind = "ConsentRule",
    namespaced,
    status = "ConsentRuleStatus",
    shortname = "cr",
    category = "accord",
    doc = "Consent for one school: people included (opt-in) and excluded, for some agreements, one partner, or all",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    printcolumn(name = "School", type_ = "string", json_path = ".spec.school"),
    printcolumn(name = "Included", type_ = "integer", json_path = ".status.included"),
    printcolumn(name = "Excluded", type_ = "integer", json_path = ".status.excluded"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConsentRuleSpec {
    /// The `School` the people belong to.
    #[schemars(regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub school: String,
    /// Which flows the rule applies to.
    pub scope: ConsentScope,
    /// People (MIS sourcedIds) who have opted in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(regex(pattern = SOURCED_ID_PATTERN)))]
    pub include: Vec<SourcedId>,
    /// People (MIS sourcedIds) who must not be shared. Exclusion always wins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(regex(pattern = SOURCED_ID_PATTERN)))]
    pub exclude: Vec<SourcedId>,
}

/// The flows a consent rule covers: exactly one member is set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "[has(self.agreements), has(self.partner), has(self.all)].filter(x, x).size() == 1",
    "message": "set exactly one of agreements, partner, all"
}]))]
pub struct ConsentScope {
    /// These agreements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreements: Option<Vec<String>>,
    /// Every agreement with this partner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner: Option<String>,
    /// Every agreement covering the school.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<bool>,
}

/// What the controller observed of a consent rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsentRuleStatus {
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions: `Ready` is the summary.
    #[serde(default)]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// People the rule includes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub included: Option<i64>,
    /// People the rule excludes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded: Option<i64>,
}
