//! The portal's pages: server-rendered HTML with one style sheet and no script. Every
//! form that changes something posts its session's CSRF token; a person's sourcedId only
//! ever travels in a POST body, never in a URL.
//!
//! This file holds the frame every page shares and signing in and out; `flows` the flow
//! map, the school, agreement and partner pages, locations and reports; `person` locating
//! one person and the subject access report; `consent` the consent controls.

mod consent;
mod flows;
mod person;

use std::sync::Arc;
use std::time::SystemTime;

use axum::Form;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tracing::info;

use super::Shared;
use super::flowmap::escape;
use super::guard::{Caller, Refused, attempt, caller, cookie, session_cookie, token_viewer};
use super::index::FlowIndex;
use super::lookup::{self, Unavailable};
use crate::api::Snapshot;

pub(in crate::portal) use consent::{Produced, produce};

/// The page routes.
pub fn router() -> Router<Shared> {
    Router::new()
        .route("/portal", get(|| async { Redirect::to("/portal/flows") }))
        .route("/portal/", get(|| async { Redirect::to("/portal/flows") }))
        .route("/portal/static/portal.css", get(style))
        .route("/portal/sign-in", get(sign_in_form).post(sign_in))
        .route("/portal/sign-out", post(sign_out))
        .route("/portal/flows", get(flows::flows))
        .route("/portal/flows.svg", get(flows::flows_svg))
        .route(
            "/portal/schools/{namespace}/{name}",
            get(flows::school_page),
        )
        .route(
            "/portal/agreements/{namespace}/{name}",
            get(flows::agreement_page),
        )
        .route(
            "/portal/partners/{namespace}/{name}",
            get(flows::partner_page),
        )
        .route("/portal/locations", get(flows::locations))
        .route("/portal/reports", get(flows::reports_page))
        .route("/portal/reports/art30.csv", get(flows::art30))
        .route(
            "/portal/locate",
            get(person::locate_form).post(person::locate),
        )
        .route(
            "/portal/reports/subject-access",
            post(person::subject_access),
        )
        .route(
            "/portal/consent",
            get(consent::consent_form).post(consent::consent_change),
        )
}

/// The signed-in caller, with the declaration in force and the ledger's figures.
async fn viewing(
    shared: &Shared,
    headers: &HeaderMap,
) -> Result<(Caller, Arc<Snapshot>, Arc<FlowIndex>), Refused> {
    let caller = signed_in(shared, headers)?;
    with_figures(shared, caller).await
}

/// As [`viewing`], for a POST that must carry the session's CSRF token.
async fn changing(
    shared: &Shared,
    headers: &HeaderMap,
    csrf: &str,
) -> Result<(Caller, Arc<Snapshot>, Arc<FlowIndex>), Refused> {
    let caller = checked(shared, headers, csrf)?;
    with_figures(shared, caller).await
}

async fn with_figures(
    shared: &Shared,
    caller: Caller,
) -> Result<(Caller, Arc<Snapshot>, Arc<FlowIndex>), Refused> {
    match lookup::current(shared).await {
        Ok((snapshot, index)) => Ok((caller, snapshot, index)),
        Err(why) => Err(unavailable(&caller, why).into()),
    }
}

/// The cookie that ties the sign-in form to the browser that asked for it.
const SIGN_IN_COOKIE: &str = "accord_sign_in";

async fn style() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../portal.css"),
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
