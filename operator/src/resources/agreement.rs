//! `DataSharingAgreement`: what one partner may receive from which schools, why, and how.
//!
//! The agreement is the specification of a flow. It takes effect only with a valid
//! approver signature over its canonical spec (see `crate::signing`).

use std::borrow::Cow;
use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector, Time};
use kube::CustomResource;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use super::shared::DURATION_PATTERN;
use crate::catalogue::Area;

/// The pattern of a calendar date, `YYYY-MM-DD`.
pub const DATE_PATTERN: &str = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$";

/// An agreement to share named fields of named areas with one partner.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "accord.dev",
    version = "v1alpha1",
    kind = "DataSharingAgreement",
    namespaced,
    status = "DataSharingAgreementStatus",
    shortname = "dsa",
    category = "accord",
    doc = "A data sharing agreement: partner, schools, purpose, lawful basis, fields, consent mode, delivery, validity and approver signature",
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
    printcolumn(name = "Partner", type_ = "string", json_path = ".spec.partner"),
    printcolumn(name = "Schools", type_ = "integer", json_path = ".status.schools"),
    printcolumn(name = "People", type_ = "integer", json_path = ".status.peopleShared"),
    printcolumn(
        name = "Last-Delivery",
        type_ = "date",
        json_path = ".status.lastDeliveryTime"
    ),
    printcolumn(
        name = "Verified",
        type_ = "string",
        priority = 1,
        json_path = ".status.conditions[?(@.type==\"Verified\")].status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataSharingAgreementSpec {
    /// The `Partner` (in this namespace) that receives the data.
    #[schemars(regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"), length(max = 63))]
    pub partner: String,
    /// The schools whose data flows: by name, by label selector, or both.
    pub schools: SchoolSelection,
    /// Why the partner receives the data, in words a parent would understand.
    #[schemars(length(min = 10, max = 2000))]
    pub purpose: String,
    /// The lawful basis for processing under UK GDPR Art. 6(1).
    pub lawful_basis: LawfulBasis,
    /// The Art. 9(2) condition, required when any special category field is shared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub special_category_condition: Option<SpecialCategoryCondition>,
    /// The fields shared, per data area. `sourcedId` is always sent.
    pub data: DataFields,
    /// Who is shared: everyone not excluded (`optOut`) or only those included (`optIn`).
    pub consent: ConsentMode,
    /// Push batches to the partner, or let it pull.
    pub delivery: Delivery,
    /// The first day the agreement is in effect.
    #[schemars(regex(pattern = DATE_PATTERN))]
    pub valid_from: String,
    /// The last day the agreement is in effect; after it the partner is told to delete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DATE_PATTERN))]
    pub valid_until: Option<String>,
    /// Stops the agreement's flows while true, without asking the partner to delete.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suspend: bool,
    /// The approver's signature over the canonical form of this spec (without `approval`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
}

/// Which schools an agreement covers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "(has(self.names) && size(self.names) > 0) || has(self.selector)",
    "message": "name at least one school or give a selector"
}]))]
pub struct SchoolSelection {
    /// Schools by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")))]
    pub names: Vec<String>,
    /// Schools whose labels match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
}

impl SchoolSelection {
    /// Whether the selection covers `school`: by name, or by its labels. The school must
    /// be in the agreement's namespace; the caller checks that.
    pub fn includes(&self, school: &super::School) -> bool {
        use kube::ResourceExt;
        let by_name = self.names.iter().any(|n| *n == school.name_any());
        by_name
            || self
                .selector
                .as_ref()
                .is_some_and(|s| super::selects(s, school.labels()))
    }
}

/// The fields an agreement shares, keyed by data area.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DataFields(pub BTreeMap<Area, Vec<String>>);

impl JsonSchema for DataFields {
    fn schema_name() -> Cow<'static, str> {
        "DataFields".into()
    }

    // Built from the catalogue so the schema can never list a field the code does not know.
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let properties: serde_json::Map<String, serde_json::Value> = Area::ALL
            .into_iter()
            .map(|area| {
                let schema = serde_json::json!({
                    "type": "array",
                    "description": format!("Fields of the {area} area."),
                    "minItems": 1,
                    "x-kubernetes-list-type": "set",
                    "items": { "type": "string", "enum": area.field_names() },
                });
                (area.as_str().to_owned(), schema)
            })
            .collect();
        json_schema!({
            "type": "object",
            "description": "The fields shared, per data area.",
            "minProperties": 1,
            "properties": properties,
        })
    }
}

/// UK GDPR Art. 6(1) lawful bases.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum LawfulBasis {
    /// (a) the data subject has given consent.
    Consent,
    /// (b) necessary for a contract with the data subject.
    Contract,
    /// (c) necessary for a legal obligation.
    LegalObligation,
    /// (d) necessary to protect someone's vital interests.
    VitalInterests,
    /// (e) necessary for a task in the public interest or official authority.
    PublicTask,
    /// (f) necessary for legitimate interests.
    LegitimateInterests,
}

/// UK GDPR Art. 9(2) conditions for special category data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SpecialCategoryCondition {
    /// (a) explicit consent.
    ExplicitConsent,
    /// (b) employment, social security and social protection law.
    EmploymentSocialSecurity,
    /// (c) vital interests of someone unable to consent.
    VitalInterests,
    /// (d) a not-for-profit body's legitimate activities.
    NotForProfitBody,
    /// (e) made manifestly public by the data subject.
    MadePublicBySubject,
    /// (f) legal claims or courts acting judicially.
    LegalClaims,
    /// (g) substantial public interest.
    SubstantialPublicInterest,
    /// (h) health or social care.
    HealthOrSocialCare,
    /// (i) public health.
    PublicHealth,
    /// (j) archiving, research or statistics.
    ArchivingResearchStatistics,
}

/// Consent mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ConsentMode {
    /// Everyone is shared except those a consent rule excludes.
    OptOut,
    /// Only those a consent rule includes are shared; exclusion still wins.
    OptIn,
}

/// How data reaches the partner.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Delivery {
    /// `push` (Accord sends batches) or `pull` (the partner calls Accord's API).
    pub mode: DeliveryMode,
    /// How often pushes happen, e.g. `1h`. Defaults to after every extraction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub interval: Option<String>,
}

/// Push or pull.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum DeliveryMode {
    /// Accord sends signed batches to the partner's endpoint.
    Push,
    /// The partner fetches from Accord's partner API.
    Pull,
}

/// An approver's signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Approval {
    /// The key's id: the name of its public key file in the keyring, without `.pub`.
    #[schemars(regex(pattern = r"^[a-z0-9]([-a-z0-9._]*[a-z0-9])?$"))]
    pub key_id: String,
    /// The Ed25519 signature, base64.
    #[schemars(regex(pattern = r"^[A-Za-z0-9+/]{86}==$"))]
    pub signature: String,
}

/// What flowed under an agreement, from the ledger.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataSharingAgreementStatus {
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions: `Ready` is the summary, `Verified` the signature check.
    #[serde(default)]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Schools the agreement covers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schools: Option<i64>,
    /// People whose data the partner holds under this agreement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub people_shared: Option<i64>,
    /// When a batch was last acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_delivery_time: Option<Time>,
    /// Fields actually sent, as `area.field`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields_shared: Vec<String>,
    /// Bytes sent in batch bodies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_sent: Option<i64>,
    /// The git commit of the declaration last applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_applied_revision: Option<String>,
    /// The git commit of the declaration last tried, valid or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_revision: Option<String>,
}
