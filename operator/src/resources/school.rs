//! `School`: one MIS source and how Accord reads and keeps its data.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::location::DataLocation;
use super::shared::{DURATION_PATTERN, SecretKeyRef};

/// One school's MIS: its identity, how to read it, when, and how long to keep what is read.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "accord.dev",
    version = "v1alpha1",
    kind = "School",
    namespaced,
    status = "SchoolStatus",
    shortname = "sch",
    category = "accord",
    doc = "One school's MIS source: identity, connector, refresh schedule, cache retention and data location",
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
    printcolumn(name = "People", type_ = "integer", json_path = ".status.people"),
    printcolumn(
        name = "Cache-Age",
        type_ = "date",
        json_path = ".status.cacheRefreshedAt"
    ),
    printcolumn(
        name = "Next-Refresh",
        type_ = "string",
        json_path = ".status.nextRefreshAt"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SchoolSpec {
    /// The school's Unique Reference Number from Get Information about Schools: six digits.
    #[schemars(regex(pattern = r"^[0-9]{6}$"))]
    pub urn: String,
    /// The local authority number and establishment number, seven digits (e.g. `2024001`).
    #[schemars(regex(pattern = r"^[0-9]{7}$"))]
    pub la_estab: String,
    /// The school's name as people know it.
    #[schemars(length(min = 1, max = 200))]
    pub display_name: String,
    /// How Accord reads the school's MIS: exactly one connector.
    pub mis: MisConnector,
    /// When the MIS is read. Defaults to daily at 02:00 UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh: Option<Refresh>,
    /// How long extracted data may stay in Accord's cache, e.g. `30d`. Defaults to `30d`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub retention: Option<String>,
    /// Where Accord keeps this school's cache.
    pub data_location: DataLocation,
    /// Stops extraction and every flow from this school while true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suspend: bool,
}

/// The MIS connector. Exactly one member is set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "[has(self.oneRosterCsv), has(self.oneRosterRest), has(self.ctf)].filter(x, x).size() == 1",
    "message": "set exactly one of oneRosterCsv, oneRosterRest, ctf"
}]))]
pub struct MisConnector {
    /// A OneRoster 1.1 or 1.2 CSV bundle: a folder or a zip with `manifest.csv`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_roster_csv: Option<CsvSource>,
    /// A OneRoster REST service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_roster_rest: Option<RestSource>,
    /// A DfE Common Transfer File (XML).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctf: Option<CtfSource>,
}

/// A OneRoster CSV bundle on disk.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CsvSource {
    /// The bundle's folder or zip file, relative to the file that declares the school.
    #[schemars(length(min = 1))]
    pub path: String,
}

/// A OneRoster REST service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RestSource {
    /// The service's base address, e.g. `https://mis.example/ims/oneroster/v1p1`.
    #[schemars(regex(pattern = r"^https?://[^\s]+$"))]
    pub base_url: String,
    /// The OneRoster version the service speaks.
    pub version: OneRosterVersion,
    /// The OAuth2 token endpoint (client-credentials grant).
    #[schemars(regex(pattern = r"^https?://[^\s]+$"))]
    pub token_url: String,
    /// The OAuth2 client id.
    pub client_id_ref: SecretKeyRef,
    /// The OAuth2 client secret.
    pub client_secret_ref: SecretKeyRef,
    /// The CA bundle (PEM) that signs the service's certificate, when not a public CA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_ref: Option<SecretKeyRef>,
    /// The longest one request may take, e.g. `30s` (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub timeout: Option<String>,
}

/// OneRoster versions Accord reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum OneRosterVersion {
    /// OneRoster 1.1 (`/ims/oneroster/v1p1`).
    #[serde(rename = "1.1")]
    V1p1,
    /// OneRoster 1.2 (`/ims/oneroster/rostering/v1p2`).
    #[serde(rename = "1.2")]
    V1p2,
}

/// A Common Transfer File on disk.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CtfSource {
    /// The CTF XML file, relative to the file that declares the school.
    #[schemars(length(min = 1))]
    pub path: String,
}

/// When the MIS is read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Refresh {
    /// Read once a day at this time, `HH:MM` in UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub daily_at: Option<String>,
    /// Read this often instead, e.g. `6h`. Not with `dailyAt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub every: Option<String>,
}

/// What the controller observed of a school.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchoolStatus {
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions: `Ready` is the summary.
    #[serde(default)]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// People in the cache (pupils, staff and contacts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub people: Option<i64>,
    /// When the cache was last filled from the MIS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_refreshed_at: Option<Time>,
    /// When the next scheduled read is due (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_refresh_at: Option<String>,
    /// The areas and fields the last extraction read, as `area.field`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extracted_fields: Vec<String>,
    /// Each authorised area: kept warm in the cache or read only when asked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub areas: Vec<AreaStatus>,
    /// The git commit of the declaration last applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_applied_revision: Option<String>,
    /// The git commit of the declaration last tried, valid or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_revision: Option<String>,
    /// The latest extraction Job, when the operator reads MIS data in Jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extraction_job: Option<ExtractionJobStatus>,
}

/// A `batch/v1` Job that reads one school's MIS into the cache, as last seen.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExtractionJobStatus {
    /// The Job's name.
    pub name: String,
    /// `Pending`, `Running`, `Succeeded` or `Failed`.
    pub phase: String,
    /// Which try this is for the same read, from 1.
    pub attempt: i64,
    /// When the Job started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    /// When it succeeded or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_time: Option<Time>,
    /// Why it failed (CamelCase, from the Job's `Failed` condition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The Job's own message about the failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When the failed read is tried again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<Time>,
}

/// One authorised area of a school's data, as the cache holds it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AreaStatus {
    /// The data area.
    pub area: String,
    /// `hot` (read on schedule and kept) or `cold` (read only when asked, not kept).
    pub temperature: String,
    /// Records of this area in the cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<i64>,
    /// When the cached records expire and are erased.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Time>,
}
