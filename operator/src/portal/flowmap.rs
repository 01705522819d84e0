//! The flow map: schools → agreements → partners as one SVG picture, with the data areas,
//! people counts and partner locations on it. [`graph`] gathers what the viewer may see;
//! [`svg`] lays it out, a pure function from data to text.
//!
//! Three columns, one row per node, so 50 schools and 30 partners stay readable (the
//! picture grows taller, not denser). Every node is a link to its page, reachable by
//! keyboard. A link's width grows with the people it carries; a dashed link is a
//! declared flow that nothing has gone through yet.

use std::fmt::Write;

use serde::Serialize;

use super::auth::Viewer;
use super::index::{FlowIndex, agreements};
use crate::resources::{ObjectKey, ResourceSet};

/// What the flow map shows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowGraph {
    /// Schools, in declared order.
    pub schools: Vec<Node>,
    /// Agreements.
    pub agreements: Vec<Node>,
    /// Partners.
    pub partners: Vec<Node>,
    /// School → agreement links, by index, with the people that went through.
    pub school_links: Vec<Link>,
    /// Agreement → partner links, by index.
    pub partner_links: Vec<Link>,
}

/// One box on the map.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    /// `namespace/name`, and the page it links to.
    pub key: String,
    /// What it is called.
    pub label: String,
    /// The second thing to read: areas for an agreement, location for a partner.
    pub detail: String,
    /// People, from the ledger (for a school: people shared from it).
    pub people: usize,
    /// For a partner: its data leaves the UK and EEA.
    pub outside_uk_eea: bool,
}

/// One line between two boxes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Link {
    /// The left box.
    pub from: usize,
    /// The right box.
    pub to: usize,
    /// People carried.
    pub people: usize,
}

/// The part of the Trust's flows `viewer` may see.
pub fn graph(resources: &ResourceSet, index: &FlowIndex, viewer: &Viewer) -> FlowGraph {
    let mut map = FlowGraph::default();
    let schools: Vec<String> = resources
        .schools
        .iter()
        .map(|s| ObjectKey::of(s).to_string())
        .filter(|k| viewer.sees(k))
        .collect();
    for school in &resources.schools {
        let key = ObjectKey::of(school).to_string();
        if !viewer.sees(&key) {
            continue;
        }
        let people = index.school_people.get(&key).copied().unwrap_or(0);
        map.schools.push(Node {
            label: school.spec.display_name.clone(),
            detail: location_text(&school.spec.data_location),
            people,
            outside_uk_eea: !school.spec.data_location.country.is_uk_or_eea(),
            key,
        });
    }

    for agreement in agreements(resources, index, viewer) {
        let at = map.agreements.len();
        for school in &agreement.schools {
            if let Some(from) = schools.iter().position(|s| s == school) {
                map.school_links.push(Link {
                    from,
                    to: at,
                    people: index.people_at(&agreement.key, school),
                });
            }
        }
        let partner_at = match map.partners.iter().position(|p| p.key == agreement.partner) {
            Some(i) => i,
            None => {
                map.partners
                    .push(partner_node(resources, &agreement.partner));
                map.partners.len() - 1
            }
        };
        map.partner_links.push(Link {
            from: at,
            to: partner_at,
            people: agreement.people,
        });
        let areas: Vec<&str> = agreement.areas.iter().map(String::as_str).collect();
        map.agreements.push(Node {
            key: agreement.key.clone(),
            label: agreement.name.clone(),
            detail: if areas.is_empty() {
                "nothing shared yet".to_owned()
            } else {
                areas.join(", ")
            },
            people: agreement.people,
            outside_uk_eea: false,
        });
    }
    // A partner's people are counted once however many agreements bring them.
    for partner in &mut map.partners {
        partner.people = index.partner_people_seen(&partner.key, viewer);
    }
    map
}

fn partner_node(resources: &ResourceSet, key: &str) -> Node {
    let found = resources
        .partners
        .iter()
        .find(|p| ObjectKey::of(*p).to_string() == key);
    Node {
        key: key.to_owned(),
        label: found.map_or_else(
            || key.rsplit('/').next().unwrap_or(key).to_owned(),
            |p| p.spec.display_name.clone(),
        ),
        detail: found.map_or_else(String::new, |p| location_text(&p.spec.data_location)),
        people: 0,
        outside_uk_eea: found.is_some_and(|p| !p.spec.data_location.country.is_uk_or_eea()),
    }
}

/// `GB/London`, or just the country.
pub fn location_text(location: &crate::resources::DataLocation) -> String {
    match &location.region {
        Some(region) => format!("{}/{region}", location.country.0),
        None => location.country.0.clone(),
    }
}

const WIDTH: usize = 1200;
const ROW: usize = 44;
const TOP: usize = 40;
const BOX_W: usize = 300;
const BOX_H: usize = 36;
const COLUMNS: [usize; 3] = [10, 450, 890];

/// The map as an SVG document.
pub fn svg(map: &FlowGraph) -> String {
    let rows = map
        .schools
        .len()
        .max(map.agreements.len())
        .max(map.partners.len())
        .max(1);
    let height = TOP + rows * ROW + 10;
    let mut out = String::new();
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="group" aria-label="Flow map: {} schools, {} agreements, {} partners" font-family="sans-serif" font-size="13">"##,
        map.schools.len(),
        map.agreements.len(),
        map.partners.len()
    );
    for (x, heading) in COLUMNS.iter().zip(["Schools", "Agreements", "Partners"]) {
        let _ = write!(
            out,
            r##"<text x="{x}" y="24" font-weight="bold" font-size="15" fill="#1a1a1a">{heading}</text>"##
        );
    }

    let y = |i: usize, n: usize| TOP + i * ((rows * ROW) / n.max(1)) + BOX_H / 2;
    for (links, from_n, to_n, column) in [
        (
            &map.school_links,
            map.schools.len(),
            map.agreements.len(),
            0,
        ),
        (
            &map.partner_links,
            map.agreements.len(),
            map.partners.len(),
            1,
        ),
    ] {
        for link in links {
            let (x1, y1) = (COLUMNS[column] + BOX_W, y(link.from, from_n));
            let (x2, y2) = (COLUMNS[column + 1], y(link.to, to_n));
            let mid = (x1 + x2) / 2;
            let width = link_width(link.people);
            let dash = if link.people == 0 {
                r#" stroke-dasharray="4 4""#
            } else {
                ""
            };
            let _ = write!(
                out,
                r##"<path d="M{x1} {y1} C{mid} {y1} {mid} {y2} {x2} {y2}" fill="none" stroke="#3d6a9e" stroke-opacity="0.6" stroke-width="{width:.1}"{dash}/>"##
            );
        }
    }

    for (column, nodes, page) in [
        (0, &map.schools, "schools"),
        (1, &map.agreements, "agreements"),
        (2, &map.partners, "partners"),
    ] {
        for (i, node) in nodes.iter().enumerate() {
            node_svg(
                &mut out,
                node,
                COLUMNS[column],
                y(i, nodes.len()) - BOX_H / 2,
                page,
            );
        }
    }
    out.push_str("</svg>");
    out
}

fn node_svg(out: &mut String, node: &Node, x: usize, y: usize, page: &str) {
    let (fill, stroke) = if node.outside_uk_eea {
        ("#fdecee", "#b00020")
    } else {
        ("#eef3fa", "#3d6a9e")
    };
    let outside = if node.outside_uk_eea {
        " · outside UK/EEA"
    } else {
        ""
    };
    let first = format!("{} · {} people", short(&node.label, 26), node.people);
    let second = format!("{}{outside}", short(&node.detail, 36));
    let _ = write!(
        out,
        r##"<a href="/portal/{page}/{}"><title>{}</title><rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="4" fill="{fill}" stroke="{stroke}"/><text x="{}" y="{}" fill="#1a1a1a">{}</text><text x="{}" y="{}" fill="#333333" font-size="11">{}</text></a>"##,
        escape(&node.key),
        escape(&format!("{}: {}{outside}", node.label, node.detail)),
        x + 8,
        y + 15,
        escape(&first),
        x + 8,
        y + 30,
        escape(&second),
    );
}

fn link_width(people: usize) -> f64 {
    (1.0 + (people as f64 + 1.0).log2() * 0.7).min(9.0)
}

fn short(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max - 1).collect();
    format!("{cut}…")
}

/// Escapes text for HTML and SVG.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(key: &str, people: usize, outside: bool) -> Node {
        Node {
            key: key.into(),
            label: key.rsplit('/').next().unwrap().into(),
            detail: "GB".into(),
            people,
            outside_uk_eea: outside,
        }
    }

    fn trust(schools: usize, partners: usize) -> FlowGraph {
        let mut map = FlowGraph::default();
        for s in 0..schools {
            map.schools.push(node(&format!("t/school-{s}"), 100, false));
        }
        for p in 0..partners {
            map.agreements
                .push(node(&format!("t/dsa-{p}"), 10 * p, false));
            map.partners
                .push(node(&format!("t/partner-{p}"), 10 * p, p == 3));
            map.partner_links.push(Link {
                from: p,
                to: p,
                people: 10 * p,
            });
            for s in (p..schools).step_by(partners) {
                map.school_links.push(Link {
                    from: s,
                    to: p,
                    people: 5,
                });
            }
        }
        map
    }

    #[test]
    fn every_node_is_a_link_to_its_page_with_its_figures() {
        let svg = svg(&trust(3, 2));
        assert_eq!(svg.matches("<a href=").count(), 3 + 2 + 2);
        assert!(svg.contains(r#"href="/portal/schools/t/school-2""#));
        assert!(svg.contains(r#"href="/portal/partners/t/partner-1""#));
        assert!(svg.contains("dsa-1 · 10 people"));
    }

    #[test]
    fn fifty_schools_and_thirty_partners_get_a_row_each_without_overlap() {
        let map = trust(50, 30);
        let svg = svg(&map);
        let tops: Vec<usize> = svg
            .match_indices("<rect x=\"10\" y=\"")
            .map(|(i, m)| {
                let rest = &svg[i + m.len()..];
                rest[..rest.find('"').unwrap()].parse().unwrap()
            })
            .collect();
        assert_eq!(tops.len(), 50);
        assert!(tops.windows(2).all(|w| w[1] >= w[0] + BOX_H), "{tops:?}");
        assert!(svg.contains(&format!("height=\"{}\"", TOP + 50 * ROW + 10)));
    }

    #[test]
    fn a_partner_outside_the_uk_and_eea_stands_out_and_an_empty_flow_is_dashed() {
        let mut map = trust(4, 4);
        map.partner_links[0].people = 0;
        let svg = svg(&map);
        assert_eq!(svg.matches(r##"stroke="#b00020""##).count(), 1);
        assert!(svg.contains("partner-3 · 30 people"));
        assert!(svg.contains("outside UK/EEA"));
        assert_eq!(svg.matches("stroke-dasharray").count(), 1);
    }

    #[test]
    fn names_are_escaped() {
        let mut map = trust(1, 1);
        map.schools[0].label = "<St Mary & All>".into();
        let svg = svg(&map);
        assert!(svg.contains("&lt;St Mary &amp; All&gt;"));
        assert!(!svg.contains("<St Mary"));
    }
}
