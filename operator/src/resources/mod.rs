//! The five resources a Trust declares, as Rust types.
//!
//! Each kind is a `kube::CustomResource`; the CRD manifests under `crds/` are generated
//! from these types, so the types are the single definition of the API. Shared pieces
//! (references to secrets, data locations, status conditions) live beside the kinds.

// kube's `printcolumn(...)` repeats `type_ = ...` once per column, which this lint mistakes
// for a duplicated attribute.
#![allow(clippy::duplicated_attributes)]

mod agreement;
mod consent;
mod erasure;
mod location;
mod partner;
mod school;
mod selector;
mod set;
mod shared;
pub mod status;

pub use agreement::{
    Approval, ConsentMode, DATE_PATTERN, DataFields, DataSharingAgreement,
    DataSharingAgreementSpec, DataSharingAgreementStatus, Delivery, DeliveryMode, LawfulBasis,
    SchoolSelection, SpecialCategoryCondition,
};
pub use consent::{ConsentRule, ConsentRuleSpec, ConsentRuleStatus, ConsentScope};
pub use erasure::{
    ErasureReason, ErasureRequest, ErasureRequestSpec, ErasureRequestStatus, PartnerErasure,
};
pub use location::{Country, DataLocation};
pub use partner::{Partner, PartnerAuth, PartnerSpec, PartnerStatus, PartnerTls, SigningMethod};
pub use school::{
    AreaStatus, CsvSource, CtfSource, ExtractionJobStatus, MisConnector, OneRosterVersion, Refresh,
    RestSource, School, SchoolSpec, SchoolStatus,
};
pub use selector::selects;
pub use set::{ObjectKey, ResourceSet};
pub use shared::{
    BadDuration, DURATION_PATTERN, Duration, SOURCED_ID_PATTERN, SecretKeyRef, SourcedId,
};

/// The API group of every Accord resource.
pub const GROUP: &str = "accord.dev";

/// The API version of every Accord resource.
pub const VERSION: &str = "v1alpha1";

/// `apiVersion` as written in YAML.
pub const API_VERSION: &str = "accord.dev/v1alpha1";

/// The kinds Accord defines, in the order a reader meets them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// [`School`]
    School,
    /// [`Partner`]
    Partner,
    /// [`DataSharingAgreement`]
    DataSharingAgreement,
    /// [`ConsentRule`]
    ConsentRule,
    /// [`ErasureRequest`]
    ErasureRequest,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 5] = [
        Kind::School,
        Kind::Partner,
        Kind::DataSharingAgreement,
        Kind::ConsentRule,
        Kind::ErasureRequest,
    ];

    /// The kind's name as `kind:` writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::School => "School",
            Kind::Partner => "Partner",
            Kind::DataSharingAgreement => "DataSharingAgreement",
            Kind::ConsentRule => "ConsentRule",
            Kind::ErasureRequest => "ErasureRequest",
        }
    }

    /// Parses the value of a `kind:` field.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
