//! `Partner`: one service that receives data, where it keeps it and how it is reached.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::location::DataLocation;
use super::shared::SecretKeyRef;

/// A recipient service: its endpoint, how batches are signed for it, and where it stores data.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "accord.dev",
    version = "v1alpha1",
    kind = "Partner",
    namespaced,
    status = "PartnerStatus",
    shortname = "ptn",
    category = "accord",
    doc = "A partner service that receives data: endpoint, authentication, CA, storage location and contact",
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
    printcolumn(
        name = "Country",
        type_ = "string",
        json_path = ".spec.dataLocation.country"
    ),
    printcolumn(
        name = "Agreements",
        type_ = "integer",
        json_path = ".status.agreements"
    ),
    printcolumn(
        name = "Last-Delivery",
        type_ = "date",
        json_path = ".status.lastDeliveryTime"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PartnerSpec {
    /// The organisation's name.
    #[schemars(length(min = 1, max = 200))]
    pub display_name: String,
    /// Where pushed batches are sent. HTTPS only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^https://[^\s]+$"))]
    pub endpoint: Option<String>,
    /// How Accord proves to the partner that a batch came from it.
    pub auth: PartnerAuth,
    /// The CA that signs the partner's certificate, when it is not a public CA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<PartnerTls>,
    /// Where the partner stores the data it receives.
    pub data_location: DataLocation,
    /// The partner's data protection contact: a role address, never a person's own.
    #[schemars(regex(pattern = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"))]
    pub privacy_contact: String,
    /// Stops every flow to this partner while true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suspend: bool,
}

/// Batch signing and the token for the partner pull API.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PartnerAuth {
    /// The signature put on every batch.
    pub signing: SigningMethod,
    /// The shared secret for `hmacSha256`, or the Ed25519 private key (PKCS#8 PEM) for `ed25519`.
    pub secret_ref: SecretKeyRef,
    /// The bearer token the partner presents to Accord's pull API, if it pulls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_token_ref: Option<SecretKeyRef>,
}

/// How a batch is signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SigningMethod {
    /// HMAC-SHA256 with a secret both sides hold.
    HmacSha256,
    /// Ed25519 with Accord's key; the partner holds the public half.
    Ed25519,
}

/// Trust settings for the partner's certificate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PartnerTls {
    /// A PEM CA bundle that signs the partner's certificate.
    pub ca_ref: SecretKeyRef,
}

/// What the controller observed of a partner.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PartnerStatus {
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions: `Ready` is the summary.
    #[serde(default)]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Agreements in effect with this partner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreements: Option<i64>,
    /// When a batch was last acknowledged by the partner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_delivery_time: Option<Time>,
}
