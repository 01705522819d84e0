//! Locating one person, and their subject access report as JSON or a printable page.
//! The sourcedId arrives in a POST body only; a person the viewer may not see gets the
//! same page as one the ledger does not know.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use k8s_openapi::jiff::Timestamp;
use serde::Deserialize;
use tracing::info;

use super::{Shared, changing, html, page, unavailable, viewing};
use crate::portal::flowmap::escape;
use crate::portal::guard::{Caller, attempt};
use crate::portal::{lookup, reports};

pub(super) fn school_select(schools: &[String]) -> String {
    let options: String = schools
        .iter()
        .map(|s| format!("<option value=\"{s}\">{s}</option>", s = escape(s)))
        .collect();
    format!(
        "<label for=\"school\">School</label><select id=\"school\" name=\"school\">{options}</select>"
    )
}

fn locate_form_html(caller: &Caller, schools: &[String]) -> String {
    format!(
        "<form method=\"post\" action=\"/portal/locate\" class=\"stack\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">{}\
         <label for=\"sourcedId\">Person's MIS sourcedId</label>\
         <input id=\"sourcedId\" name=\"sourcedId\" required autocomplete=\"off\">\
         <button type=\"submit\">Locate</button></form>",
        escape(caller.csrf()),
        school_select(schools)
    )
}

pub(super) async fn locate_form(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let (caller, snapshot, _) = attempt!(viewing(&shared, &headers).await);
    let body = format!(
        "<p>Every partner, agreement, field and date a person's data went to, from the \
         ledger.</p>{}",
        locate_form_html(&caller, &lookup::schools(&snapshot, &caller.viewer))
    );
    html(StatusCode::OK, page(&caller, "Locate a person", &body))
}

#[derive(Deserialize)]
pub(super) struct PersonForm {
    csrf: String,
    school: String,
    #[serde(rename = "sourcedId")]
    sourced_id: String,
    #[serde(default)]
    format: String,
}

pub(super) async fn locate(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<PersonForm>,
) -> Response {
    let (caller, snapshot, _) = attempt!(changing(&shared, &headers, &form.csrf).await);
    let schools = lookup::schools(&snapshot, &caller.viewer);
    let found = lookup::person(
        &shared,
        &snapshot,
        &caller.viewer,
        &form.school,
        &form.sourced_id,
    )
    .await;
    let person = match found {
        Ok(Some(person)) => person,
        Ok(None) => {
            // The same page whether the person is unknown or at a school not the viewer's.
            let body = format!(
                "<p role=\"alert\">The ledger holds no record of that person at that school \
                 that you may see.</p>{}",
                locate_form_html(&caller, &schools)
            );
            return html(
                StatusCode::NOT_FOUND,
                page(&caller, "Locate a person", &body),
            );
        }
        Err(why) => return unavailable(&caller, why),
    };
    let hidden = |format: &str, label: &str| {
        format!(
            "<form method=\"post\" action=\"/portal/reports/subject-access\" class=\"inline\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <input type=\"hidden\" name=\"school\" value=\"{}\">\
             <input type=\"hidden\" name=\"sourcedId\" value=\"{}\">\
             <input type=\"hidden\" name=\"format\" value=\"{format}\">\
             <button type=\"submit\">{label}</button></form>",
            escape(caller.csrf()),
            escape(&person.school),
            escape(&person.subject),
        )
    };
    let erased = person.erased.as_deref().map_or_else(String::new, |at| {
        format!("<p>Erased from Accord's cache at {}.</p>", escape(at))
    });
    let body = format!(
        "<p>{} at {}.</p>{}{erased}<h2>Subject access report</h2><p>{} {}</p>\
         <h2>Another person</h2>{}",
        escape(&person.subject),
        escape(&person.school),
        reports::person_table(&person.flows),
        hidden("json", "Download as JSON"),
        hidden("html", "Printable report"),
        locate_form_html(&caller, &schools),
    );
    html(StatusCode::OK, page(&caller, "Locate a person", &body))
}

pub(super) async fn subject_access(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<PersonForm>,
) -> Response {
    let (caller, snapshot, _) = attempt!(changing(&shared, &headers, &form.csrf).await);
    let person = match lookup::person(
        &shared,
        &snapshot,
        &caller.viewer,
        &form.school,
        &form.sourced_id,
    )
    .await
    {
        Ok(Some(person)) => person,
        Ok(None) => {
            return html(
                StatusCode::NOT_FOUND,
                page(
                    &caller,
                    "Locate a person",
                    "<p role=\"alert\">The ledger holds no record of that person at that school that you may see.</p>",
                ),
            );
        }
        Err(why) => return unavailable(&caller, why),
    };
    info!(role = caller.viewer.role_name(), format = %form.format, "Subject access report produced");
    let erased = person.erased.as_deref();
    if form.format == "json" {
        let json =
            reports::subject_access_json(&person.subject, &person.school, &person.flows, erased);
        return (
            [
                (header::CONTENT_TYPE, "application/json"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"subject-access-report.json\"",
                ),
            ],
            serde_json::to_string_pretty(&json).unwrap_or_default(),
        )
            .into_response();
    }
    html(
        StatusCode::OK,
        reports::subject_access_html(
            &person.subject,
            &person.school,
            &person.flows,
            erased,
            &Timestamp::now().to_string(),
        ),
    )
}
