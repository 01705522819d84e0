//! The portal's reports: the subject access report for one person (JSON, and a printable
//! HTML page), the record of processing activities (GDPR Art. 30) as CSV, and what flowed
//! under one agreement. Pure functions of the declaration and the ledger's figures.

use std::collections::BTreeSet;

use kube::ResourceExt;
use serde_json::{Value, json};

use super::flowmap::{escape, location_text};
use super::index::{AgreementView, FlowIndex};
use crate::catalogue::{Area, Category};
use crate::ledger::summary::PersonAtPartner;
use crate::resources::{DataSharingAgreement, ObjectKey, ResourceSet};
use spelling::Text;

/// The subject access report: every partner, agreement, field and date one person's data
/// went to, where each partner keeps it, and every deletion notice with its
/// acknowledgement. `accord locate -o json` prints the same.
pub fn subject_access_json(
    subject: &str,
    school: &str,
    flows: &[PersonAtPartner],
    erased: Option<&str>,
) -> Value {
    json!({
        "sourcedId": subject,
        "school": school,
        "erasedFromCacheAt": erased,
        "partners": flows.iter().map(|f| json!({
            "partner": f.partner,
            "agreement": f.agreement,
            "partnerLocation": f.partner_location,
            "fields": f.fields,
            "firstShared": f.first_shared,
            "lastShared": f.last_shared,
            "delivered": f.delivered,
            "deletionNotice": f.notified_at,
            "deletionReason": f.reason,
            "acknowledged": f.acknowledged_at,
        })).collect::<Vec<_>>(),
    })
}

/// The table of one person's flows, as the locate page and the printable report show it.
/// Each partner's row carries `data-partner`, so a reader (or a test) can list them.
pub fn person_table(flows: &[PersonAtPartner]) -> String {
    if flows.is_empty() {
        return "<p>No data about this person has gone to any partner.</p>".to_owned();
    }
    let mut rows = String::new();
    for flow in flows {
        let deletion = match (&flow.notified_at, &flow.acknowledged_at) {
            (Some(at), Some(ack)) => format!(
                "notice {} ({}), acknowledged {}",
                escape(at),
                escape(flow.reason.as_deref().unwrap_or("-")),
                escape(ack)
            ),
            (Some(at), None) => format!(
                "notice {} ({}), <strong>not yet acknowledged</strong>",
                escape(at),
                escape(flow.reason.as_deref().unwrap_or("-"))
            ),
            _ => "none: the partner may hold this data".to_owned(),
        };
        let fields: Vec<&str> = flow.fields.iter().map(String::as_str).collect();
        rows.push_str(&format!(
            "<tr data-partner=\"{p}\"><th scope=\"row\">{p}</th><td>{a}</td><td>{l}</td>\
             <td>{f}</td><td>{first}</td><td>{last}</td><td>{d}</td><td>{del}</td></tr>",
            p = escape(&flow.partner),
            a = escape(&flow.agreement),
            l = escape(&flow.partner_location),
            f = escape(&fields.join(", ")),
            first = escape(flow.first_shared.as_deref().unwrap_or("-")),
            last = escape(flow.last_shared.as_deref().unwrap_or("-")),
            d = if flow.delivered {
                "yes"
            } else {
                "not yet confirmed"
            },
            del = deletion,
        ));
    }
    format!(
        "<table><caption>Partners that received this person's data</caption><thead><tr>\
         <th scope=\"col\">Partner</th><th scope=\"col\">Agreement</th>\
         <th scope=\"col\">Where the partner keeps it</th><th scope=\"col\">Fields</th>\
         <th scope=\"col\">First shared</th><th scope=\"col\">Last shared</th>\
         <th scope=\"col\">Delivered</th><th scope=\"col\">Deletion</th></tr></thead>\
         <tbody>{rows}</tbody></table>"
    )
}

/// The subject access report as a complete printable page.
pub fn subject_access_html(
    subject: &str,
    school: &str,
    flows: &[PersonAtPartner],
    erased: Option<&str>,
    generated: &str,
) -> String {
    let erased = erased.map_or_else(String::new, |at| {
        format!("<p>Erased from Accord's cache at {}.</p>", escape(at))
    });
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Subject access report</title>\
         <link rel=\"stylesheet\" href=\"/portal/static/portal.css\"></head>\
         <body class=\"print\"><main><h1>Subject access report</h1>\
         <p>Person (MIS sourcedId) <strong>{s}</strong> at school <strong>{school}</strong>. \
         Generated {g} from Accord's ledger: every share, deletion notice and \
         acknowledgement recorded about this person.</p>{table}{erased}</main></body></html>",
        s = escape(subject),
        school = escape(school),
        g = escape(generated),
        table = person_table(flows),
    )
}

/// The columns of the record of processing.
pub const ART30_COLUMNS: [&str; 17] = [
    "agreement",
    "controller",
    "purpose",
    "lawful basis",
    "special category condition",
    "categories of people",
    "categories of data",
    "special category data",
    "recipient",
    "recipient contact",
    "recipient location",
    "transfer outside UK/EEA",
    "schools",
    "people shared",
    "retention",
    "security measures",
    "last delivery",
];

/// What Accord does to protect the data, for the record of processing.
pub const SECURITY_MEASURES: &str = "minimal fields per signed agreement; consent applied \
    before sending; AES-256-GCM cache with a key per school; HTTPS with the partner's CA; \
    every batch signed (HMAC-SHA256 or Ed25519); hash-chained ledger of every flow; \
    deletion notices tracked to acknowledgement";

/// The record of processing activities (GDPR Art. 30): one row per agreement the viewer
/// sees, in the order of [`ART30_COLUMNS`].
pub fn art30_rows(
    resources: &ResourceSet,
    index: &FlowIndex,
    seen: &[AgreementView],
) -> Vec<Vec<String>> {
    seen.iter()
        .filter_map(|view| {
            let agreement = find_agreement(resources, &view.key)?;
            Some(art30_row(resources, index, agreement, view))
        })
        .collect()
}

/// The record of processing as CSV, with a header row.
pub fn art30_csv(rows: &[Vec<String>]) -> Result<String, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(ART30_COLUMNS)?;
    for row in rows {
        writer.write_record(row)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn art30_row(
    resources: &ResourceSet,
    index: &FlowIndex,
    agreement: &DataSharingAgreement,
    view: &AgreementView,
) -> Vec<String> {
    let spec = &agreement.spec;
    let namespace = agreement.namespace().unwrap_or_default();
    let partner = resources.partner(&namespace, &spec.partner);
    let people: BTreeSet<&str> = spec
        .data
        .0
        .keys()
        .map(|area| match area {
            Area::Staff => "staff",
            Area::Contacts => "parents and carers",
            Area::Classes | Area::Enrollments => "pupils and staff",
            _ => "pupils",
        })
        .collect();
    let mut fields = Vec::new();
    let mut special = Vec::new();
    for (area, names) in &spec.data.0 {
        for name in names {
            fields.push(format!("{area}.{name}"));
            if area
                .field(name)
                .is_some_and(|f| f.category == Category::Special)
            {
                special.push(format!("{area}.{name}"));
            }
        }
    }
    let retention: Vec<String> = view
        .schools
        .iter()
        .filter_map(|s| resources.school(&ObjectKey::parse(s)?))
        .map(|s| s.spec.retention.clone().unwrap_or_else(|| "30d".into()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let until = spec
        .valid_until
        .as_deref()
        .map_or("its removal".to_owned(), |d| format!("{d} or its removal"));
    vec![
        view.key.clone(),
        namespace,
        spec.purpose.clone(),
        spec.lawful_basis.text(),
        spec.special_category_condition
            .as_ref()
            .map_or_else(String::new, |c| c.text()),
        people.into_iter().collect::<Vec<_>>().join("; "),
        fields.join("; "),
        special.join("; "),
        partner.map_or_else(|| view.partner.clone(), |p| p.spec.display_name.clone()),
        partner.map_or_else(String::new, |p| p.spec.privacy_contact.clone()),
        partner.map_or_else(String::new, |p| location_text(&p.spec.data_location)),
        partner
            .map(|p| !p.spec.data_location.country.is_uk_or_eea())
            .map_or("unknown", |outside| if outside { "yes" } else { "no" })
            .to_owned(),
        view.schools.join("; "),
        view.people.to_string(),
        format!(
            "Accord's cache: {} after each read; partner: until the agreement ends \
             ({until}), or a person leaves, is excluded or erased, when a deletion notice \
             is sent",
            retention.join(", ")
        ),
        SECURITY_MEASURES.to_owned(),
        index
            .flows
            .get(&view.key)
            .and_then(|f| f.last_delivery.clone())
            .unwrap_or_default(),
    ]
}

/// What flowed under one agreement, for its report page and its JSON.
pub fn agreement_report(resources: &ResourceSet, index: &FlowIndex, view: &AgreementView) -> Value {
    let agreement = find_agreement(resources, &view.key);
    let flows = index.flows.get(&view.key);
    let events: Vec<&super::index::FlowEvent> = index
        .events
        .get(&view.key)
        .into_iter()
        .flatten()
        .filter(|e| view.schools.contains(&e.school))
        .collect();
    json!({
        "agreement": view.key,
        "partner": view.partner,
        "purpose": agreement.map(|a| a.spec.purpose.clone()),
        "lawfulBasis": agreement.map(|a| a.spec.lawful_basis.text()),
        "schools": view.schools.iter().map(|s| json!({
            "school": s,
            "people": index.people_at(&view.key, s),
        })).collect::<Vec<_>>(),
        "people": view.people,
        "fieldsHeld": flows.map(|f| f.fields.clone()).unwrap_or_default(),
        "lastDelivery": flows.and_then(|f| f.last_delivery.clone()),
        "batchesAcknowledged": flows.map_or(0, |f| f.batches),
        "bytesAcknowledged": flows.map_or(0, |f| f.bytes),
        "events": events,
    })
}

/// The agreement with this `namespace/name`.
pub fn find_agreement<'a>(
    resources: &'a ResourceSet,
    key: &str,
) -> Option<&'a DataSharingAgreement> {
    resources
        .agreements
        .iter()
        .find(|a| ObjectKey::of(*a).to_string() == key)
}

/// A declared enum's YAML spelling, for tables.
mod spelling {
    /// Anything serialisable as a plain string.
    pub trait Text {
        /// Its serialised spelling, or empty.
        fn text(&self) -> String;
    }

    impl<T: serde::Serialize> Text for T {
        fn text(&self) -> String {
            serde_json::to_value(self)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::portal::fixtures::Trust;

    #[test]
    fn the_record_of_processing_has_a_row_per_agreement_with_its_transfer() {
        let set = Trust::default()
            .school("ashby", "GB")
            .partner("hub", "US")
            .partner("quest", "IE")
            .agreement("homework", "hub", &["ashby"])
            .agreement("reading", "quest", &["ashby"])
            .0;
        let index = FlowIndex::default();
        let viewer = crate::portal::Viewer {
            role: crate::portal::Role::TrustDpo,
            school: None,
            label: String::new(),
            expires: k8s_openapi::jiff::Timestamp::MAX,
        };
        let seen = crate::portal::index::agreements(&set, &index, &viewer);
        let csv = art30_csv(&art30_rows(&set, &index, &seen)).unwrap();
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 2);
        let column = |name: &str| ART30_COLUMNS.iter().position(|c| *c == name).unwrap();
        assert_eq!(&rows[0][column("agreement")], "t/homework");
        assert_eq!(&rows[0][column("lawful basis")], "publicTask");
        assert_eq!(&rows[0][column("categories of people")], "pupils");
        assert_eq!(&rows[0][column("categories of data")], "students.givenName");
        assert_eq!(&rows[0][column("recipient location")], "US");
        assert_eq!(&rows[0][column("transfer outside UK/EEA")], "yes");
        assert_eq!(&rows[1][column("transfer outside UK/EEA")], "no");
        assert!(rows[0][column("retention")].contains("30d"));
    }

    #[test]
    fn the_subject_access_page_lists_each_partner_and_escapes_what_it_shows() {
        let flows = [PersonAtPartner {
            agreement: "t/homework".into(),
            partner: "t/hub".into(),
            partner_location: "US".into(),
            first_shared: Some("2026-12-01T06:00:00Z".into()),
            notified_at: Some("2026-12-02T06:00:00Z".into()),
            reason: Some("noLongerShared".into()),
            ..PersonAtPartner::default()
        }];
        let page = subject_access_html("stu-<1>", "t/ashby", &flows, None, "now");
        assert_eq!(page.matches("data-partner=\"t/hub\"").count(), 1);
        assert!(page.contains("stu-&lt;1&gt;"));
        assert!(page.contains("not yet acknowledged"));
    }
}
