//! The partner pull API: a partner presents its bearer token and gets exactly what its
//! pull agreements allow, for the people consent allows, from the cache or, for an area
//! nobody has used lately, read from the MIS on demand and not kept. Every page served is
//! a share in the ledger, and a use that keeps the area warm.
//!
//! - `GET /partner/v1/agreements`: the partner's pull agreements in effect, their schools
//!   and fields.
//! - `GET /partner/v1/agreements/{agreement}/schools/{school}/{area}?limit=&offset=`:
//!   one page of records.
//! - `GET /partner/v1/notices`: deletion notices waiting for the partner.
//! - `POST /partner/v1/notices/{batch}/ack`: the partner confirms it deleted.
//!
//! An agreement, school or area the partner may not see answers 404, the same as one that
//! does not exist, so a token learns nothing about other partners' agreements.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tracing::{info, warn};

use super::{ApiContext, Snapshot};
use crate::catalogue::Area;
use crate::controller::deliver::{SchoolRecords, location, roll, target};
use crate::controller::extract::{area_payload, read_school};
use crate::delivery::Projected;
use crate::delivery::sync::digest;
use crate::ledger::{EntryBody, EntryKind};
use crate::mis::FieldSet;
use crate::resources::{DataSharingAgreement, DeliveryMode, ObjectKey, Partner};
use crate::state::{HoldingChange, unix_seconds};

/// The most records one page may hold.
pub const MAX_PAGE: usize = 10_000;

/// The pull routes.
pub fn router(context: ApiContext) -> Router {
    Router::new()
        .route("/partner/v1/agreements", get(agreements))
        .route(
            "/partner/v1/agreements/{agreement}/schools/{school}/{area}",
            get(records),
        )
        .route("/partner/v1/notices", get(notices))
        .route("/partner/v1/notices/{batch}/ack", post(acknowledge))
        .with_state(context)
}

/// A refusal, as JSON `{"error": …}`.
struct Refusal(StatusCode, &'static str);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = (self.0, Json(json!({ "error": self.1 }))).into_response();
        if self.0 == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

const NOT_FOUND: Refusal = Refusal(
    StatusCode::NOT_FOUND,
    "no such agreement, school or area for this partner",
);

/// The partner whose token this is, and the snapshot it is judged under.
fn authenticate(
    context: &ApiContext,
    headers: &HeaderMap,
) -> Result<(Arc<Snapshot>, Partner), Refusal> {
    let unauthorised = Refusal(
        StatusCode::UNAUTHORIZED,
        "present a partner pull token as Authorization: Bearer <token>",
    );
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(unauthorised)?;
    let snapshot = context.published.borrow().clone().ok_or(Refusal(
        StatusCode::SERVICE_UNAVAILABLE,
        "the controller has not applied a declaration yet",
    ))?;
    let presented = Sha256::digest(token.trim().as_bytes());
    let partner = snapshot.resources.partners.iter().find(|partner| {
        let Some(reference) = &partner.spec.auth.pull_token_ref else {
            return false;
        };
        let Ok(secret) = context.secrets.read(reference) else {
            return false;
        };
        let text = String::from_utf8_lossy(&secret);
        same(&Sha256::digest(text.trim().as_bytes()), &presented)
    });
    match partner {
        Some(partner) if !partner.spec.suspend => Ok((snapshot.clone(), partner.clone())),
        _ => Err(Refusal(StatusCode::UNAUTHORIZED, "the token is not valid")),
    }
}

/// Compares two digests in constant time.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The partner's pull agreements in effect.
fn pull_agreements<'a>(
    snapshot: &'a Snapshot,
    partner: &Partner,
) -> Vec<(&'a DataSharingAgreement, Vec<ObjectKey>)> {
    let namespace = partner.namespace().unwrap_or_else(|| "default".into());
    snapshot
        .agreements
        .iter()
        .filter(|plan| plan.in_effect() && plan.key.namespace == namespace)
        .filter_map(|plan| {
            let agreement = snapshot
                .resources
                .agreements
                .iter()
                .find(|a| ObjectKey::of(*a) == plan.key)?;
            let mine = agreement.spec.partner == partner.name_any()
                && agreement.spec.delivery.mode == DeliveryMode::Pull;
            mine.then(|| (agreement, plan.schools.clone()))
        })
        .collect()
}

async fn agreements(State(context): State<ApiContext>, headers: HeaderMap) -> Response {
    let (snapshot, partner) = match authenticate(&context, &headers) {
        Ok(found) => found,
        Err(refusal) => return refusal.into_response(),
    };
    let list: Vec<Value> = pull_agreements(&snapshot, &partner)
        .into_iter()
        .map(|(agreement, schools)| {
            json!({
                "agreement": agreement.name_any(),
                "purpose": agreement.spec.purpose,
                "schools": schools.iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
                "data": agreement.spec.data.0,
            })
        })
        .collect();
    Json(json!({ "agreements": list })).into_response()
}

/// Paging of a records request.
#[derive(Debug, Deserialize)]
struct Page {
    limit: Option<usize>,
    offset: Option<usize>,
}

async fn records(
    State(context): State<ApiContext>,
    headers: HeaderMap,
    Path((agreement_name, school_name, area)): Path<(String, String, String)>,
    Query(page): Query<Page>,
) -> Response {
    let (snapshot, partner) = match authenticate(&context, &headers) {
        Ok(found) => found,
        Err(refusal) => return refusal.into_response(),
    };
    let Ok(area) = area.parse::<Area>() else {
        return NOT_FOUND.into_response();
    };
    let found = pull_agreements(&snapshot, &partner)
        .into_iter()
        .find(|(a, _)| a.name_any() == agreement_name);
    let Some((agreement, schools)) = found else {
        return NOT_FOUND.into_response();
    };
    let Some(school_key) = schools.into_iter().find(|s| s.name == school_name) else {
        return NOT_FOUND.into_response();
    };
    let Some(fields) = agreement.spec.data.0.get(&area).cloned() else {
        return NOT_FOUND.into_response();
    };

    let cached = match area_records(&context, &snapshot, &school_key, area).await {
        Ok(cached) => cached,
        Err(refusal) => return refusal.into_response(),
    };
    let roll = roll(&cached);
    let shared = target(agreement, &school_key, &snapshot.resources, &cached, &roll)
        .areas
        .remove(&area)
        .map(|t| t.records)
        .unwrap_or_default();

    let limit = page.limit.unwrap_or(1_000).clamp(1, MAX_PAGE);
    let offset = page.offset.unwrap_or(0);
    let total = shared.len();
    let served: Vec<Projected> = shared.into_iter().skip(offset).take(limit).collect();
    let agreement_key = ObjectKey::of(agreement).to_string();
    if let Err(error) = record_served(
        &context,
        &agreement_key,
        &school_key,
        &partner,
        area,
        &fields,
        &served,
    )
    .await
    {
        warn!(agreement = %agreement_key, %error, "Cannot record a pull in the ledger; nothing served");
        return Refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "the ledger is unavailable; try again",
        )
        .into_response();
    }
    let next = (offset + served.len() < total).then_some(offset + served.len());
    info!(agreement = %agreement_key, school = %school_key, %area, records = served.len(), "Records served to a pull");
    let mut response = Json(json!({
        "agreement": agreement.name_any(),
        "school": school_key.name,
        "area": area,
        "fields": fields,
        "total": total,
        "offset": offset,
        "nextOffset": next,
        "records": served
            .iter()
            .filter_map(|r| serde_json::from_str::<&RawValue>(r.json()).ok())
            .collect::<Vec<_>>(),
    }))
    .into_response();
    // Pages carry personal data: nothing between here and the partner may keep a copy.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

/// The school's records for the roll and `area`: from the cache, touching it; or for a
/// cold area, read from the MIS now and not kept.
async fn area_records(
    context: &ApiContext,
    snapshot: &Snapshot,
    school: &ObjectKey,
    area: Area,
) -> Result<SchoolRecords, Refusal> {
    let name = school.to_string();
    let now = SystemTime::now();
    let mut records = SchoolRecords::new();
    for wanted in [Area::Students, Area::Staff, Area::Contacts, area] {
        if records.contains_key(&wanted) {
            continue;
        }
        if let Ok(Some(bytes)) = context.cache.get(&name, wanted, now).await
            && let Ok(list) = serde_json::from_slice::<Vec<Map<String, Value>>>(&bytes)
        {
            records.insert(wanted, list);
        }
    }
    if records.contains_key(&area) {
        let _ = context.cache.touch(&name, area, now).await;
        return Ok(records);
    }

    // Cold: read just this area's authorised fields, now.
    let unavailable = Refusal(
        StatusCode::SERVICE_UNAVAILABLE,
        "the school's MIS cannot be read now; try again later",
    );
    let school = snapshot.resources.school(school).ok_or(NOT_FOUND)?;
    let plan = snapshot
        .schools
        .iter()
        .find(|p| p.key == ObjectKey::of(school))
        .ok_or(NOT_FOUND)?;
    let mut fields = FieldSet::new();
    for field in plan.authorised.fields(area) {
        let _ = fields.insert(area, field);
    }
    if !fields.has_area(area) {
        fields = fields.with(area, &[]).unwrap_or_default();
    }
    let extract = read_school(school, &context.base, &fields, &context.secrets)
        .await
        .map_err(|error| {
            warn!(school = %name, %area, %error, "On-demand MIS read failed");
            unavailable
        })?;
    let payload = area_payload(&extract, area);
    let list = serde_json::from_slice::<Vec<Map<String, Value>>>(&payload).unwrap_or_default();
    records.insert(area, list);
    Ok(records)
}

/// Writes the share (and, since the response is the delivery, its acknowledgement) to the
/// ledger, and what the partner now holds, before the page is sent.
async fn record_served(
    context: &ApiContext,
    agreement: &str,
    school: &ObjectKey,
    partner: &Partner,
    area: Area,
    fields: &[String],
    served: &[Projected],
) -> Result<(), crate::state::StateError> {
    if served.is_empty() {
        return Ok(());
    }
    let batch = crate::delivery::wire::new_batch_key()
        .unwrap_or_else(|_| format!("pull-{}", unix_seconds(SystemTime::now())));
    let at = Timestamp::now().to_string();
    let subjects: BTreeSet<&str> = served.iter().filter_map(Projected::subject).collect();
    let base = EntryBody {
        at,
        school: school.to_string(),
        agreement: agreement.to_owned(),
        partner: ObjectKey::of(partner).to_string(),
        partner_location: location(partner),
        area: area.to_string(),
        records: served.len() as u64,
        batch: batch.clone(),
        ..EntryBody::default()
    };
    let ledger = [
        EntryBody {
            kind: EntryKind::Share,
            fields: fields.to_vec(),
            subjects: subjects.iter().map(|s| (*s).to_owned()).collect(),
            ..base.clone()
        },
        EntryBody {
            kind: EntryKind::Acknowledgement,
            area: String::new(),
            // The records as the page's JSON list carries them.
            bytes: (served.iter().map(|r| r.json().len() + 1).sum::<usize>() + 1) as u64,
            reason: "served".to_owned(),
            ..base
        },
    ];
    let change = HoldingChange::Upsert {
        area,
        fields,
        records: served
            .iter()
            .map(|r| (r.id(), r.subject(), digest(r.json())))
            .collect(),
    };
    context
        .cache
        .state()
        .record_served(
            agreement,
            &school.to_string(),
            &ObjectKey::of(partner).to_string(),
            &[change],
            &ledger,
        )
        .await
}

async fn notices(State(context): State<ApiContext>, headers: HeaderMap) -> Response {
    let (_, partner) = match authenticate(&context, &headers) {
        Ok(found) => found,
        Err(refusal) => return refusal.into_response(),
    };
    let key = ObjectKey::of(&partner).to_string();
    let Ok(pending) = context.cache.state().pending(Some(&key)).await else {
        return Refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "the outbox is unavailable; try again",
        )
        .into_response();
    };
    let mut list = Vec::new();
    for message in pending.into_iter().filter(|m| m.mode == "pull") {
        match context
            .cache
            .open_message(&message.school, &message.batch, &message.sealed)
            .await
        {
            Ok(body) => {
                if let Ok(value) = serde_json::from_slice::<Value>(&body) {
                    list.push(value);
                }
            }
            Err(error) => warn!(batch = %message.batch, %error, "Notice unreadable"),
        }
    }
    let mut response = Json(json!({ "notices": list })).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

async fn acknowledge(
    State(context): State<ApiContext>,
    headers: HeaderMap,
    Path(batch): Path<String>,
) -> Response {
    let (_, partner) = match authenticate(&context, &headers) {
        Ok(found) => found,
        Err(refusal) => return refusal.into_response(),
    };
    let key = ObjectKey::of(&partner).to_string();
    let Ok(pending) = context.cache.state().pending(Some(&key)).await else {
        return Refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "the outbox is unavailable; try again",
        )
        .into_response();
    };
    let Some(message) = pending
        .into_iter()
        .find(|m| m.batch == batch && m.mode == "pull")
    else {
        return Refusal(
            StatusCode::NOT_FOUND,
            "no such notice waiting for this partner",
        )
        .into_response();
    };
    let ack = EntryBody {
        kind: EntryKind::Acknowledgement,
        at: Timestamp::now().to_string(),
        school: message.school.clone(),
        agreement: message.agreement.clone(),
        partner: key.clone(),
        partner_location: location(&partner),
        subjects: message.subjects.clone(),
        records: message.records,
        batch: message.batch.clone(),
        reason: message.kind.clone(),
        ..EntryBody::default()
    };
    match context
        .cache
        .state()
        .acknowledge(&batch, unix_seconds(SystemTime::now()), &ack)
        .await
    {
        Ok(()) => {
            info!(partner = %key, %batch, "Notice acknowledged by a pull");
            Json(json!({ "batch": batch, "result": "acknowledged" })).into_response()
        }
        Err(error) => {
            warn!(%batch, %error, "Cannot record an acknowledgement");
            Refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "cannot record the acknowledgement; try again",
            )
            .into_response()
        }
    }
}
