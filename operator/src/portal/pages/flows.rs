//! The pages about flows: the flow map, one school, agreement or partner, where data is
//! held and sent, and the reports (per agreement and the record of processing).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{Shared, html, page, viewing};
use crate::portal::flowmap::{self, escape};
use crate::portal::guard::{Caller, attempt};
use crate::portal::index::{self, AgreementView};
use crate::portal::{lookup, reports};
use crate::resources::ObjectKey;

pub(super) async fn flows(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let (caller, snapshot, index) = attempt!(viewing(&shared, &headers).await);
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

pub(super) async fn flows_svg(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let (caller, snapshot, index) = attempt!(viewing(&shared, &headers).await);
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

pub(super) async fn school_page(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path((namespace, name)): Path<(String, String)>,
) -> Response {
    let (caller, snapshot, index) = attempt!(viewing(&shared, &headers).await);
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

pub(super) async fn partner_page(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path((namespace, name)): Path<(String, String)>,
) -> Response {
    let (caller, snapshot, index) = attempt!(viewing(&shared, &headers).await);
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

pub(super) async fn agreement_page(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path((namespace, name)): Path<(String, String)>,
) -> Response {
    let (caller, snapshot, index) = attempt!(viewing(&shared, &headers).await);
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

pub(super) async fn locations(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let (caller, snapshot, index) = attempt!(viewing(&shared, &headers).await);
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

pub(super) async fn reports_page(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let (caller, snapshot, index) = attempt!(viewing(&shared, &headers).await);
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

pub(super) async fn art30(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let (caller, snapshot, index) = attempt!(viewing(&shared, &headers).await);
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
