//! The JSON API behind every page, under `/portal/api/v1/` and described in
//! `docs/portal-openapi.yaml`. A caller presents a session cookie (and, to change
//! anything, the session's CSRF token as `X-CSRF-Token`) or a portal token as
//! `Authorization: Bearer`. A person's sourcedId travels only in POST bodies.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::guard::{CSRF_HEADER, Caller, Refused, attempt, caller};
use super::index::FlowIndex;
use super::lookup::{self, Unavailable};
use super::pages::{Produced, produce};
use super::{Shared, flowmap, index, reports};
use crate::api::Snapshot;

/// The API routes.
pub fn router() -> Router<Shared> {
    Router::new()
        .route("/portal/api/v1/session", get(session))
        .route("/portal/api/v1/flows", get(flows))
        .route("/portal/api/v1/agreements", get(agreements))
        .route(
            "/portal/api/v1/agreements/{namespace}/{name}",
            get(agreement),
        )
        .route("/portal/api/v1/locations", get(locations))
        .route(
            "/portal/api/v1/record-of-processing",
            get(record_of_processing),
        )
        .route("/portal/api/v1/locate", post(locate))
        .route("/portal/api/v1/consent", post(consent))
}

fn refusal(status: StatusCode, message: &str) -> Response {
    let mut response = (status, Json(json!({ "error": message }))).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
    }
    response
}

fn unauthorised() -> Response {
    refusal(
        StatusCode::UNAUTHORIZED,
        "sign in, or present a portal token as Authorization: Bearer <token>",
    )
}

fn unavailable(why: Unavailable) -> Refused {
    refusal(StatusCode::SERVICE_UNAVAILABLE, &why.to_string()).into()
}

/// The body of every refusal to show a person, whether or not they exist.
const NO_RECORD: &str = "the ledger holds no record of that person at that school that you may see";

fn authenticated(shared: &Shared, headers: &HeaderMap) -> Result<Caller, Refused> {
    caller(shared, headers).ok_or_else(|| unauthorised().into())
}

/// For a state-changing request: the caller, if a session caller sent its CSRF token.
fn authorised_change(shared: &Shared, headers: &HeaderMap) -> Result<Caller, Refused> {
    let caller = authenticated(shared, headers)?;
    let presented = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    if caller.csrf_ok(presented) {
        Ok(caller)
    } else {
        Err(refusal(
            StatusCode::FORBIDDEN,
            "send the session's CSRF token as X-CSRF-Token",
        )
        .into())
    }
}

/// The caller, with the declaration in force and the ledger's figures.
async fn reading(
    shared: &Shared,
    headers: &HeaderMap,
) -> Result<(Caller, Arc<Snapshot>, Arc<FlowIndex>), Refused> {
    let caller = authenticated(shared, headers)?;
    let (snapshot, index) = lookup::current(shared).await.map_err(unavailable)?;
    Ok((caller, snapshot, index))
}

async fn session(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let caller = attempt!(authenticated(&shared, &headers));
    Json(json!({
        "role": caller.viewer.role_name(),
        "school": caller.viewer.school,
        "tokenExpires": caller.viewer.expires.to_string(),
        "csrfToken": caller.session.as_ref().map(|(_, s)| s.csrf.clone()),
    }))
    .into_response()
}

async fn flows(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let (caller, snapshot, index) = attempt!(reading(&shared, &headers).await);
    Json(flowmap::graph(&snapshot.resources, &index, &caller.viewer)).into_response()
}

async fn agreements(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let (caller, snapshot, index) = attempt!(reading(&shared, &headers).await);
    let seen = index::agreements(&snapshot.resources, &index, &caller.viewer);
    Json(json!({ "agreements": seen })).into_response()
}

async fn agreement(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path((namespace, name)): Path<(String, String)>,
) -> Response {
    let (caller, snapshot, index) = attempt!(reading(&shared, &headers).await);
    let key = format!("{namespace}/{name}");
    match index::agreements(&snapshot.resources, &index, &caller.viewer)
        .into_iter()
        .find(|a| a.key == key)
    {
        Some(view) => Json(reports::agreement_report(
            &snapshot.resources,
            &index,
            &view,
        ))
        .into_response(),
        None => refusal(StatusCode::NOT_FOUND, "no such agreement that you may see"),
    }
}

async fn locations(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let (caller, snapshot, index) = attempt!(reading(&shared, &headers).await);
    let rolls = lookup::rolls(&shared).await;
    let places = index::places(&snapshot.resources, &index, &caller.viewer, &rolls);
    Json(json!({ "places": places })).into_response()
}

async fn record_of_processing(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let (caller, snapshot, index) = attempt!(reading(&shared, &headers).await);
    let seen = index::agreements(&snapshot.resources, &index, &caller.viewer);
    let rows: Vec<Value> = reports::art30_rows(&snapshot.resources, &index, &seen)
        .into_iter()
        .map(|row| {
            Value::Object(
                reports::ART30_COLUMNS
                    .iter()
                    .zip(row)
                    .map(|(column, value)| ((*column).to_owned(), Value::String(value)))
                    .collect(),
            )
        })
        .collect();
    Json(json!({ "activities": rows })).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PersonRequest {
    school: String,
    sourced_id: String,
}

async fn locate(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Json(request): Json<PersonRequest>,
) -> Response {
    let caller = attempt!(authorised_change(&shared, &headers));
    let (snapshot, _) = attempt!(lookup::current(&shared).await.map_err(unavailable));
    let found = lookup::person(
        &shared,
        &snapshot,
        &caller.viewer,
        &request.school,
        &request.sourced_id,
    )
    .await;
    match found {
        Ok(Some(person)) => Json(reports::subject_access_json(
            &person.subject,
            &person.school,
            &person.flows,
            person.erased.as_deref(),
        ))
        .into_response(),
        Ok(None) => refusal(StatusCode::NOT_FOUND, NO_RECORD),
        Err(why) => unavailable(why).into_response(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConsentRequest {
    school: String,
    sourced_id: String,
    /// An agreement's name, or `all`.
    feed: String,
    /// `exclude` or `include`.
    action: String,
    #[serde(default)]
    write: bool,
}

async fn consent(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Json(request): Json<ConsentRequest>,
) -> Response {
    let caller = attempt!(authorised_change(&shared, &headers));
    let produced = produce(
        &shared,
        &caller,
        &request.school,
        &request.sourced_id,
        &request.feed,
        &request.action,
        request.write,
    )
    .await;
    match produced {
        Ok(Produced { change, written }) => {
            Json(json!({ "rule": change, "writtenTo": written })).into_response()
        }
        Err((status, why)) => refusal(status, &why),
    }
}
