//! `ErasureRequest`: the right to be forgotten for one person at one school.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::shared::{SOURCED_ID_PATTERN, SourcedId};

/// Erase one person's data from Accord's cache and from every partner that received it.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "accord.dev",
    version = "v1alpha1",
    kind = "ErasureRequest",
    namespaced,
    status = "ErasureRequestStatus",
    shortname = "er",
    shortname = "erasure",
    shortname = "erasures",
    category = "accord",
    doc = "Right to be forgotten for one person at one school, for all or some agreements",
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
    printcolumn(
        name = "Partners",
        type_ = "integer",
        json_path = ".status.partnersNotified"
    ),
    printcolumn(
        name = "Acknowledged",
        type_ = "integer",
        json_path = ".status.partnersAcknowledged"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ErasureRequestSpec {
    /// The `School` whose MIS holds the person.
    #[schemars(regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub school: String,
    /// The person's MIS sourcedId.
    #[schemars(regex(pattern = SOURCED_ID_PATTERN))]
    pub sourced_id: SourcedId,
    /// Only these agreements; every agreement when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agreements: Vec<String>,
    /// Why the data is erased.
    pub reason: ErasureReason,
    /// The day the request was received, for the one-month deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = super::agreement::DATE_PATTERN))]
    pub received_on: Option<String>,
}

/// Why a person's data is erased.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ErasureReason {
    /// Art. 17 request from the person or their parent.
    RightToErasure,
    /// Consent the sharing relied on was withdrawn.
    ConsentWithdrawn,
    /// The person objected to processing (Art. 21).
    Objection,
    /// The person left the school.
    LeftSchool,
}

/// Progress of an erasure, partner by partner.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErasureRequestStatus {
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions: `Ready` once every partner has acknowledged.
    #[serde(default)]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Partners sent a deletion notice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partners_notified: Option<i64>,
    /// Partners that acknowledged the notice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partners_acknowledged: Option<i64>,
    /// Each partner that held the person's data.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partners: Vec<PartnerErasure>,
}

/// One partner's part in an erasure.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PartnerErasure {
    /// The partner.
    pub partner: String,
    /// When the deletion notice was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notified_at: Option<Time>,
    /// When the partner acknowledged it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_at: Option<Time>,
}
