//! The portal's pages: server-rendered HTML with one style sheet and no script. Every
//! form that changes something posts its session's CSRF token; a person's sourcedId only
//! ever travels in a POST body, never in a URL.

use std::time::SystemTime;

use axum::Form;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use k8s_openapi::jiff::Timestamp;
use serde::Deserialize;
use tracing::info;

use super::consent::{self, Action, Feed};
use super::flowmap::{self, escape};
use super::guard::{Caller, Refused, attempt, caller, cookie, session_cookie, token_viewer};
use super::index::{self, AgreementView};
use super::lookup::{self, Unavailable};
use super::{Shared, reports};
use crate::resources::ObjectKey;

/// The cookie that ties the sign-in form to the browser that asked for it.
const SIGN_IN_COOKIE: &str = "accord_sign_in";

/// The page routes.
pub fn router() -> Router<Shared> {
    Router::new()
        .route("/portal", get(|| async { Redirect::to("/portal/flows") }))
        .route("/portal/", get(|| async { Redirect::to("/portal/flows") }))
        .route("/portal/static/portal.css", get(style))
        .route("/portal/sign-in", get(sign_in_form).post(sign_in))
        .route("/portal/sign-out", post(sign_out))
        .route("/portal/flows", get(flows))
        .route("/portal/flows.svg", get(flows_svg))
        .route("/portal/schools/{namespace}/{name}", get(school_page))
        .route("/portal/agreements/{namespace}/{name}", get(agreement_page))
        .route("/portal/partners/{namespace}/{name}", get(partner_page))
        .route("/portal/locate", get(locate_form).post(locate))
        .route("/portal/locations", get(locations))
        .route("/portal/reports", get(reports_page))
        .route("/portal/reports/art30.csv", get(art30))
        .route("/portal/reports/subject-access", post(subject_access))
        .route("/portal/consent", get(consent_form).post(consent_change))
}

async fn style() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("portal.css"),
    )
        .into_response()
}

/// A page for a signed-in caller, with the navigation and a sign-out button.
fn page(caller: &Caller, title: &str, body: &str) -> String {
    let links = [
        ("/portal/flows", "Flow map"),
        ("/portal/locate", "Locate a person"),
        ("/portal/locations", "Data locations"),
        ("/portal/reports", "Reports"),
        ("/portal/consent", "Consent"),
    ];
    let nav: String = links
        .iter()
        .map(|(href, label)| format!("<li><a href=\"{href}\">{label}</a></li>"))
        .collect();
    let who = match &caller.viewer.school {
        Some(school) => format!("school staff, {}", escape(school)),
        None => "Trust DPO".to_owned(),
    };
    shell(
        title,
        &format!(
            "<header><p class=\"brand\">Accord transparency portal</p>\
             <nav aria-label=\"Portal\"><ul>{nav}</ul></nav>\
             <form method=\"post\" action=\"/portal/sign-out\" class=\"signout\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <span>Signed in as {who}</span> <button type=\"submit\">Sign out</button></form>\
             </header><main id=\"main\"><h1>{title}</h1>{body}</main>",
            csrf = escape(caller.csrf()),
            title = escape(title),
        ),
    )
}

fn shell(title: &str, content: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · Accord</title><link rel=\"stylesheet\" href=\"/portal/static/portal.css\">\
         </head><body><a class=\"skip\" href=\"#main\">Skip to content</a>{content}</body></html>",
        escape(title)
    )
}

fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

fn unavailable(caller: &Caller, why: Unavailable) -> Response {
    html(
        StatusCode::SERVICE_UNAVAILABLE,
        page(
            caller,
            "Not available yet",
            &format!("<p>{}</p>", escape(&why.to_string())),
        ),
    )
}

/// The caller, or the response that sends them to sign in.
fn signed_in(shared: &Shared, headers: &HeaderMap) -> Result<Caller, Refused> {
    match caller(shared, headers) {
        Some(caller) if caller.session.is_some() => Ok(caller),
        _ => Err(Redirect::to("/portal/sign-in").into_response().into()),
    }
}

/// The caller, if the POST carries their session's CSRF token.
fn checked(shared: &Shared, headers: &HeaderMap, csrf: &str) -> Result<Caller, Refused> {
    let caller = signed_in(shared, headers)?;
    if caller.csrf_ok(Some(csrf)) {
        Ok(caller)
    } else {
        Err(html(
            StatusCode::FORBIDDEN,
            shell(
                "Refused",
                "<main id=\"main\"><h1>Refused</h1><p>The form was out of date. \
                 Go back, reload the page and try again.</p></main>",
            ),
        )
        .into())
    }
}

async fn sign_in_form() -> Response {
    let Some(nonce) = super::auth::random_token() else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let mut response = html(StatusCode::OK, sign_in_page(&nonce, ""));
    set_cookie(
        &mut response,
        &format!("{SIGN_IN_COOKIE}={nonce}; Path=/portal/sign-in; HttpOnly; SameSite=Strict"),
    );
    response
}

fn sign_in_page(nonce: &str, message: &str) -> String {
    shell(
        "Sign in",
        &format!(
            "<main id=\"main\"><h1>Sign in to the Accord transparency portal</h1>{message}\
             <form method=\"post\" action=\"/portal/sign-in\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <label for=\"token\">Access token</label>\
             <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"off\" required>\
             <button type=\"submit\">Sign in</button></form>\
             <p>Your Trust's DPO issues access tokens.</p></main>",
            escape(nonce)
        ),
    )
}

#[derive(Deserialize)]
struct SignIn {
    token: String,
    csrf: String,
}

async fn sign_in(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<SignIn>,
) -> Response {
    let expected = cookie(&headers, SIGN_IN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !super::auth::same(expected.as_bytes(), form.csrf.as_bytes()) {
        return Redirect::to("/portal/sign-in").into_response();
    }
    let Some(viewer) = token_viewer(&shared, &form.token) else {
        info!("Portal sign-in refused");
        return html(
            StatusCode::UNAUTHORIZED,
            sign_in_page(
                &expected,
                "<p class=\"error\" role=\"alert\">That token is not valid, or has expired.</p>",
            ),
        );
    };
    let length = shared.portal.session_length();
    let label = viewer.label.clone();
    let role = viewer.role_name();
    let Some(id) = shared
        .portal
        .sessions
        .start(viewer, length, SystemTime::now())
    else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    info!(token = %label, role, "Portal sign-in");
    let mut response = Redirect::to("/portal/flows").into_response();
    set_cookie(
        &mut response,
        &session_cookie(&id, shared.portal.secure_cookies, length.as_secs()),
    );
    response
}

#[derive(Deserialize)]
struct Csrf {
    csrf: String,
}

async fn sign_out(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<Csrf>,
) -> Response {
    let caller = attempt!(checked(&shared, &headers, &form.csrf));
    if let Some((id, _)) = &caller.session {
        shared.portal.sessions.end(id);
    }
    let mut response = Redirect::to("/portal/sign-in").into_response();
    set_cookie(
        &mut response,
        &session_cookie("", shared.portal.secure_cookies, 0),
    );
    response
}

fn set_cookie(response: &mut Response, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

async fn flows(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let caller = attempt!(signed_in(&shared, &headers));
    let (snapshot, index) = match lookup::current(&shared).await {
        Ok(found) => found,
        Err(why) => return unavailable(&caller, why),
    };
    let map = flowmap::graph(&snapshot.resources, &index, &caller.viewer);
    let body = format!(
        "<p>Each school's data goes only where an agreement takes it. Figures are what the \
         ledger records as received by each partner. Select a box for its page.</p>\
         <figure class=\"map\">{}<figcaption>Schools on the left, agreements in the middle, \
         partners on the right. A dashed line is an agreement nothing has flowed under yet; \
         a red box keeps data outside the UK and EEA.</figcaption></figure>",
        flowmap::svg(&map)
    );
    html(StatusCode::OK, page(&caller, "Flow map", &body))
}

async fn flows_svg(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let caller = attempt!(signed_in(&shared, &headers));
    let (snapshot, index) = match lookup::current(&shared).await {
        Ok(found) => found,
        Err(why) => return unavailable(&caller, why),
    };
    let map = flowmap::graph(&snapshot.resources, &index, &caller.viewer);
    (
        [(header::CONTENT_TYPE, "image/svg+xml")],
        flowmap::svg(&map),
    )
        .into_response()
}

fn not_found(caller: &Caller) -> Response {
    html(
        StatusCode::NOT_FOUND,
        page(
            caller,
            "Not found",
            "<p>There is no such page you may see.</p>",
        ),
    )
}

async fn school_page(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path((namespace, name)): Path<(String, String)>,
) -> Response {
    let caller = attempt!(signed_in(&shared, &headers));
    let (snapshot, index) = match lookup::current(&shared).await {
        Ok(found) => found,
        Err(why) => return unavailable(&caller, why),
    };
    let key = format!("{namespace}/{name}");
    let Some(school) = snapshot
        .resources
        .school(&ObjectKey::new(&namespace, &name))
        .filter(|_| caller.viewer.sees(&key))
    else {
        return not_found(&caller);
    };
    let rows: String = index::agreements(&snapshot.resources, &index, &caller.viewer)
        .iter()
        .filter(|a| a.schools.contains(&key))
        .map(|a| {
            format!(
                "<tr><th scope=\"row\"><a href=\"/portal/agreements/{k}\">{k}</a></th>\
                 <td>{p}</td><td>{n}</td></tr>",
                k = escape(&a.key),
                p = escape(&a.partner),
                n = index.people_at(&a.key, &key)
            )
        })
        .collect();
    let body = format!(
        "<p>Cache kept in {}; retention {}.</p>\
         <table><caption>Agreements covering this school</caption><thead><tr>\
         <th scope=\"col\">Agreement</th><th scope=\"col\">Partner</th>\
         <th scope=\"col\">People the partner holds</th></tr></thead><tbody>{rows}</tbody></table>",
        escape(&flowmap::location_text(&school.spec.data_location)),
        escape(school.spec.retention.as_deref().unwrap_or("30d")),
    );
    html(
        StatusCode::OK,
        page(&caller, &school.spec.display_name, &body),
    )
}

async fn partner_page(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path((namespace, name)): Path<(String, String)>,
) -> Response {
    let caller = attempt!(signed_in(&shared, &headers));
    let (snapshot, index) = match lookup::current(&shared).await {
        Ok(found) => found,
        Err(why) => return unavailable(&caller, why),
    };
    let key = format!("{namespace}/{name}");
    let seen: Vec<AgreementView> = index::agreements(&snapshot.resources, &index, &caller.viewer)
        .into_iter()
        .filter(|a| a.partner == key)
        .collect();
    let Some(partner) = snapshot
        .resources
        .partner(&namespace, &name)
        .filter(|_| caller.viewer.school.is_none() || !seen.is_empty())
    else {
        return not_found(&caller);
    };
    let outside = if partner.spec.data_location.country.is_uk_or_eea() {
        ""
    } else {
        " <strong class=\"outside\">Outside the UK and EEA: a restricted transfer.</strong>"
    };
    let body = format!(
        "<p>Keeps data in {}.{outside} Privacy contact: {}.</p>{}",
        escape(&flowmap::location_text(&partner.spec.data_location)),
        escape(&partner.spec.privacy_contact),
        agreement_table(&seen),
    );
    html(
        StatusCode::OK,
        page(&caller, &partner.spec.display_name, &body),
    )
}

fn agreement_table(seen: &[AgreementView]) -> String {
    let rows: String = seen
        .iter()
        .map(|a| {
            let areas: Vec<&str> = a.areas.iter().map(String::as_str).collect();
            format!(
                "<tr><th scope=\"row\"><a href=\"/portal/agreements/{k}\">{k}</a></th>\
                 <td>{p}</td><td>{s}</td><td>{ar}</td><td>{n}</td></tr>",
                k = escape(&a.key),
                p = escape(&a.partner),
                s = a.schools.len(),
                ar = escape(&areas.join(", ")),
                n = a.people
            )
        })
        .collect();
    format!(
        "<table><caption>Agreements</caption><thead><tr><th scope=\"col\">Agreement</th>\
         <th scope=\"col\">Partner</th><th scope=\"col\">Schools</th>\
         <th scope=\"col\">Areas held</th><th scope=\"col\">People held</th></tr></thead>\
         <tbody>{rows}</tbody></table>"
    )
}

async fn agreement_page(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path((namespace, name)): Path<(String, String)>,
) -> Response {
    let caller = attempt!(signed_in(&shared, &headers));
    let (snapshot, index) = match lookup::current(&shared).await {
        Ok(found) => found,
        Err(why) => return unavailable(&caller, why),
    };
    let key = format!("{namespace}/{name}");
    let Some(view) = index::agreements(&snapshot.resources, &index, &caller.viewer)
        .into_iter()
        .find(|a| a.key == key)
    else {
        return not_found(&caller);
    };
    let report = reports::agreement_report(&snapshot.resources, &index, &view);
    let schools: String = report["schools"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            format!(
                "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
                escape(s["school"].as_str().unwrap_or_default()),
                s["people"]
            )
        })
        .collect();
    let fields: Vec<&str> = report["fieldsHeld"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f.as_str())
        .collect();
    let events: String = report["events"]
        .as_array()
        .into_iter()
        .flatten()
        .rev()
        .take(200)
        .map(|e| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(e["at"].as_str().unwrap_or_default()),
                escape(e["kind"].as_str().unwrap_or_default()),
                escape(e["school"].as_str().unwrap_or_default()),
                escape(e["area"].as_str().unwrap_or_default()),
                e["people"],
                e["records"],
                if e["acknowledged"] == true { "yes" } else { "no" },
            )
        })
        .collect();
    let body = format!(
        "<dl><dt>Partner</dt><dd>{partner}</dd><dt>Purpose</dt><dd>{purpose}</dd>\
         <dt>Lawful basis</dt><dd>{basis}</dd><dt>People the partner holds</dt><dd>{people}</dd>\
         <dt>Fields the partner holds</dt><dd>{fields}</dd><dt>Last delivery</dt><dd>{last}</dd>\
         <dt>Messages acknowledged</dt><dd>{batches}</dd></dl>\
         <table><caption>People held, per school</caption><thead><tr><th scope=\"col\">School</th>\
         <th scope=\"col\">People</th></tr></thead><tbody>{schools}</tbody></table>\
         <table><caption>What flowed, newest first (up to 200)</caption><thead><tr>\
         <th scope=\"col\">When</th><th scope=\"col\">What</th><th scope=\"col\">School</th>\
         <th scope=\"col\">Area</th><th scope=\"col\">People</th><th scope=\"col\">Records</th>\
         <th scope=\"col\">Acknowledged</th></tr></thead><tbody>{events}</tbody></table>",
        partner = escape(&view.partner),
        purpose = escape(report["purpose"].as_str().unwrap_or_default()),
        basis = escape(report["lawfulBasis"].as_str().unwrap_or_default()),
        people = view.people,
        fields = escape(&fields.join(", ")),
        last = escape(report["lastDelivery"].as_str().unwrap_or("never")),
        batches = report["batchesAcknowledged"],
    );
    html(
        StatusCode::OK,
        page(&caller, &format!("Agreement {key}"), &body),
    )
}

fn school_select(schools: &[String]) -> String {
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

async fn locate_form(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let caller = attempt!(signed_in(&shared, &headers));
    let snapshot = match lookup::current(&shared).await {
        Ok((snapshot, _)) => snapshot,
        Err(why) => return unavailable(&caller, why),
    };
    let body = format!(
        "<p>Every partner, agreement, field and date a person's data went to, from the \
         ledger.</p>{}",
        locate_form_html(&caller, &lookup::schools(&snapshot, &caller.viewer))
    );
    html(StatusCode::OK, page(&caller, "Locate a person", &body))
}

#[derive(Deserialize)]
struct PersonForm {
    csrf: String,
    school: String,
    #[serde(rename = "sourcedId")]
    sourced_id: String,
    #[serde(default)]
    format: String,
}

async fn locate(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<PersonForm>,
) -> Response {
    let caller = attempt!(checked(&shared, &headers, &form.csrf));
    let snapshot = match lookup::current(&shared).await {
        Ok((snapshot, _)) => snapshot,
        Err(why) => return unavailable(&caller, why),
    };
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

async fn subject_access(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<PersonForm>,
) -> Response {
    let caller = attempt!(checked(&shared, &headers, &form.csrf));
    let snapshot = match lookup::current(&shared).await {
        Ok((snapshot, _)) => snapshot,
        Err(why) => return unavailable(&caller, why),
    };
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

async fn locations(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let caller = attempt!(signed_in(&shared, &headers));
    let (snapshot, index) = match lookup::current(&shared).await {
        Ok(found) => found,
        Err(why) => return unavailable(&caller, why),
    };
    let rolls = lookup::rolls(&shared).await;
    let places = index::places(&snapshot.resources, &index, &caller.viewer, &rolls);
    let mut rows = String::new();
    for place in &places {
        let held: Vec<String> = place
            .caches
            .iter()
            .map(|(s, n)| format!("{} ({n} people)", escape(s)))
            .collect();
        let sent: Vec<String> = place
            .partners
            .iter()
            .map(|(p, n)| format!("{} ({n} people)", escape(p)))
            .collect();
        let class = if place.outside_uk_eea {
            " class=\"outside\""
        } else {
            ""
        };
        let flag = if place.outside_uk_eea {
            "<strong>outside UK/EEA</strong>"
        } else {
            "UK/EEA"
        };
        rows.push_str(&format!(
            "<tr{class}><th scope=\"row\">{}</th><td>{}</td><td>{flag}</td><td>{}</td><td>{}</td></tr>",
            escape(&place.country),
            escape(if place.region.is_empty() { "-" } else { &place.region }),
            if held.is_empty() { "-".to_owned() } else { held.join("; ") },
            if sent.is_empty() { "-".to_owned() } else { sent.join("; ") },
        ));
    }
    let body = format!(
        "<p>Where schools' caches are held and where partners keep what they are sent. People \
         at a cache are those on the roll Accord last read; at a partner, those the ledger \
         records it holds.</p><table><caption>Data locations by country and region</caption>\
         <thead><tr><th scope=\"col\">Country</th><th scope=\"col\">Region</th>\
         <th scope=\"col\">Transfer</th><th scope=\"col\">School caches held here</th>\
         <th scope=\"col\">Partners keeping data here</th></tr></thead><tbody>{rows}</tbody></table>"
    );
    html(StatusCode::OK, page(&caller, "Data locations", &body))
}

async fn reports_page(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let caller = attempt!(signed_in(&shared, &headers));
    let (snapshot, index) = match lookup::current(&shared).await {
        Ok(found) => found,
        Err(why) => return unavailable(&caller, why),
    };
    let seen = index::agreements(&snapshot.resources, &index, &caller.viewer);
    let body = format!(
        "<h2>Record of processing activities</h2><p>GDPR Art. 30: purposes, categories of \
         people and data, recipients, transfers, retention and security measures, one row per \
         agreement.</p><p><a href=\"/portal/reports/art30.csv\" download>Download the record of \
         processing (CSV)</a></p><h2>Per agreement</h2>{}\
         <h2>Subject access</h2><p><a href=\"/portal/locate\">Locate a person</a> for their \
         report, as JSON or a printable page.</p>",
        agreement_table(&seen)
    );
    html(StatusCode::OK, page(&caller, "Reports", &body))
}

async fn art30(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let caller = attempt!(signed_in(&shared, &headers));
    let (snapshot, index) = match lookup::current(&shared).await {
        Ok(found) => found,
        Err(why) => return unavailable(&caller, why),
    };
    let seen = index::agreements(&snapshot.resources, &index, &caller.viewer);
    match reports::art30_csv(&reports::art30_rows(&snapshot.resources, &index, &seen)) {
        Ok(csv) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"record-of-processing.csv\"",
                ),
            ],
            csv,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn consent_form_html(
    caller: &Caller,
    schools: &[String],
    feeds: &[String],
    writes: bool,
) -> String {
    let options: String = std::iter::once(("all".to_owned(), "Every agreement".to_owned()))
        .chain(feeds.iter().map(|f| (f.clone(), format!("Agreement {f}"))))
        .map(|(v, l)| format!("<option value=\"{}\">{}</option>", escape(&v), escape(&l)))
        .collect();
    let write = if writes {
        "<div><input type=\"checkbox\" id=\"write\" name=\"write\" value=\"yes\">\
         <label for=\"write\">Also write it into the watched folder</label></div>"
    } else {
        ""
    };
    format!(
        "<form method=\"post\" action=\"/portal/consent\" class=\"stack\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">{}\
         <label for=\"sourcedId\">Person's MIS sourcedId</label>\
         <input id=\"sourcedId\" name=\"sourcedId\" required autocomplete=\"off\">\
         <label for=\"feed\">Feed</label><select id=\"feed\" name=\"feed\">{options}</select>\
         <fieldset><legend>Action</legend>\
         <div><input type=\"radio\" id=\"exclude\" name=\"action\" value=\"exclude\" checked>\
         <label for=\"exclude\">Exclude from the feed</label></div>\
         <div><input type=\"radio\" id=\"include\" name=\"action\" value=\"include\">\
         <label for=\"include\">Include in the feed</label></div></fieldset>{write}\
         <button type=\"submit\">Produce the ConsentRule</button></form>",
        escape(caller.csrf()),
        school_select(schools),
    )
}

/// Every agreement name covering any of these schools.
fn feeds(snapshot: &crate::api::Snapshot, schools: &[String]) -> Vec<String> {
    let mut feeds: Vec<String> = schools
        .iter()
        .filter_map(|s| ObjectKey::parse(s))
        .flat_map(|s| lookup::agreements_of(snapshot, &s))
        .collect();
    feeds.sort();
    feeds.dedup();
    feeds
}

async fn consent_form(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let caller = attempt!(signed_in(&shared, &headers));
    let snapshot = match lookup::current(&shared).await {
        Ok((snapshot, _)) => snapshot,
        Err(why) => return unavailable(&caller, why),
    };
    let schools = lookup::schools(&snapshot, &caller.viewer);
    let body = format!(
        "<p>Excluding or including a person produces the ConsentRule to commit to the Trust's \
         git repository, and its diff. Nothing changes until it is committed{}.</p>{}",
        if shared.portal.writes.is_some() {
            " or written into the watched folder"
        } else {
            ""
        },
        consent_form_html(
            &caller,
            &schools,
            &feeds(&snapshot, &schools),
            shared.portal.writes.is_some()
        )
    );
    html(StatusCode::OK, page(&caller, "Consent", &body))
}

#[derive(Deserialize)]
struct ConsentForm {
    csrf: String,
    school: String,
    #[serde(rename = "sourcedId")]
    sourced_id: String,
    feed: String,
    action: String,
    #[serde(default)]
    write: String,
}

/// What a consent request produced, for the page and the API alike.
pub(super) struct Produced {
    pub change: consent::Change,
    pub written: Option<String>,
}

/// Produces (and when asked and allowed, writes) the rule; `Err` carries status and why.
pub(super) async fn produce(
    shared: &Shared,
    caller: &Caller,
    school: &str,
    subject: &str,
    feed: &str,
    action: &str,
    write: bool,
) -> Result<Produced, (StatusCode, String)> {
    let (snapshot, _) = lookup::current(shared)
        .await
        .map_err(|why| (StatusCode::SERVICE_UNAVAILABLE, why.to_string()))?;
    let Some(school) = lookup::school(&snapshot, &caller.viewer, school) else {
        return Err((
            StatusCode::NOT_FOUND,
            "no such school that you may see".into(),
        ));
    };
    let action = match action {
        "exclude" => Action::Exclude,
        "include" => Action::Include,
        _ => {
            return Err((
                StatusCode::BAD_REQUEST,
                "action is exclude or include".into(),
            ));
        }
    };
    let feed = if feed == "all" {
        Feed::All
    } else {
        Feed::Agreement(feed.to_owned())
    };
    let request = consent::Request {
        school,
        subject: subject.trim().to_owned(),
        feed,
        action,
    };
    let name_hint = consent::change(&snapshot.resources, &request, None)
        .map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))?;
    let declared = shared
        .portal
        .writes
        .as_deref()
        .or(Some(shared.base.as_path()))
        .and_then(|base| consent::find_declared(base, &name_hint.namespace, &name_hint.name));
    let change = consent::change(
        &snapshot.resources,
        &request,
        declared.as_ref().map(|d| d.1.as_str()),
    )
    .map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))?;
    let written = match (&shared.portal.writes, write) {
        (Some(base), true) if !change.diff.is_empty() => {
            let path =
                consent::write(base, &change).map_err(|e| (StatusCode::CONFLICT, e.to_string()))?;
            info!(rule = %change.name, role = caller.viewer.role_name(), "Consent rule written to the watched folder");
            Some(path.display().to_string())
        }
        (None, true) => {
            return Err((
                StatusCode::FORBIDDEN,
                "this portal only produces YAML; start accord run with --portal-writes to let it write".into(),
            ));
        }
        _ => None,
    };
    Ok(Produced { change, written })
}

async fn consent_change(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<ConsentForm>,
) -> Response {
    let caller = attempt!(checked(&shared, &headers, &form.csrf));
    let produced = produce(
        &shared,
        &caller,
        &form.school,
        &form.sourced_id,
        &form.feed,
        &form.action,
        form.write == "yes",
    )
    .await;
    let Produced { change, written } = match produced {
        Ok(produced) => produced,
        Err((status, why)) => {
            return html(
                status,
                page(
                    &caller,
                    "Consent",
                    &format!(
                        "<p role=\"alert\">{}</p><p><a href=\"/portal/consent\">Back to consent</a></p>",
                        escape(&why)
                    ),
                ),
            );
        }
    };
    let status = match (&written, change.diff.is_empty()) {
        (_, true) => "<p>The declared rule already says this: nothing to change.</p>".to_owned(),
        (Some(path), _) => format!(
            "<p>Written to <code>{}</code>. Commit it to the Trust's repository.</p>",
            escape(path)
        ),
        (None, _) => format!(
            "<p>Commit this as <code>{}</code> in the Trust's repository; the controller \
             applies it once merged.</p>",
            escape(&change.file)
        ),
    };
    let body = format!(
        "{status}<h2>ConsentRule {}</h2><pre id=\"yaml\" tabindex=\"0\" aria-label=\"ConsentRule YAML\">{}</pre>\
         <h2>Diff</h2><pre id=\"diff\" tabindex=\"0\" aria-label=\"Diff against the declared rule\">{}</pre>\
         <p><a href=\"/portal/consent\">Another change</a></p>",
        escape(&change.name),
        escape(&change.yaml),
        escape(if change.diff.is_empty() {
            "(no change)"
        } else {
            &change.diff
        }),
    );
    html(StatusCode::OK, page(&caller, "Consent", &body))
}
