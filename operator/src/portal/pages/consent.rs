//! The consent controls: a form that produces the ConsentRule YAML and its diff, and in
//! `--portal-writes` mode writes it into the watched folder.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use tracing::info;

use super::person::school_select;
use super::{Shared, checked, html, page, viewing};
use crate::portal::consent::{self, Action, Feed};
use crate::portal::flowmap::escape;
use crate::portal::guard::{Caller, attempt};
use crate::portal::lookup;
use crate::resources::ObjectKey;

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

pub(super) async fn consent_form(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let (caller, snapshot, _) = attempt!(viewing(&shared, &headers).await);
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
pub(super) struct ConsentForm {
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
pub(in crate::portal) struct Produced {
    pub change: consent::Change,
    pub written: Option<String>,
}

/// Produces (and when asked and allowed, writes) the rule; `Err` carries status and why.
pub(in crate::portal) async fn produce(
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

pub(super) async fn consent_change(
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
