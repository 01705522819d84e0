//! `accord status`: every resource and its status, in kubectl's table form, from the state
//! that `accord run` keeps. The columns are the CRDs' printer columns.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

use crate::resources::Kind;

/// Arguments of `accord status`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this kind (`school`, `dsa`, …), or one resource as `KIND/NAME` or `KIND/NAMESPACE/NAME`.
    #[arg(value_name = "KIND[/NAME]")]
    what: Option<String>,
    /// The state folder `accord run` uses.
    #[arg(long, value_name = "DIR", default_value = ".accord")]
    state: PathBuf,
    #[command(flatten)]
    database: super::database::DatabaseArgs,
    /// `table`, or `yaml` for whole resources with their status.
    #[arg(long, short = 'o', default_value = "table")]
    output: String,
}

/// Runs `accord status`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("failed to start the runtime")?;
    let text = runtime.block_on(render(&args))?;
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

async fn render(args: &Args) -> anyhow::Result<String> {
    let first = format!(
        "run `accord run PATH --state {}` first",
        args.state.display()
    );
    let state = args.database.open_existing(&args.state, &first).await?;
    let (kinds, name) = selection(args.what.as_deref())?;
    let mut out = String::new();
    for kind in kinds {
        let mut objects: Vec<Value> = state
            .statuses::<Value>(kind.as_str())
            .await?
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        if let Some((namespace, name)) = &name {
            objects.retain(|o| {
                o["metadata"]["name"] == *name
                    && namespace
                        .as_ref()
                        .is_none_or(|ns| o["metadata"]["namespace"] == *ns)
            });
        }
        if objects.is_empty() {
            continue;
        }
        match args.output.as_str() {
            "yaml" => {
                for object in &objects {
                    out.push_str("---\n");
                    out.push_str(&serde_yaml::to_string(object)?);
                }
            }
            "table" => out.push_str(&table(kind, &objects, Timestamp::now())),
            other => bail!("unknown output {other:?}: use table or yaml"),
        }
    }
    if out.is_empty() && name.is_some() {
        bail!("no such resource in {}", args.state.display());
    }
    Ok(out)
}

/// A resource asked for by name, with its namespace when given.
type Named = (Option<String>, String);

fn selection(what: Option<&str>) -> anyhow::Result<(Vec<Kind>, Option<Named>)> {
    let Some(what) = what else {
        return Ok((Kind::ALL.to_vec(), None));
    };
    let mut parts = what.splitn(3, '/');
    let kind_name = parts.next().unwrap_or_default();
    let kind = kind_by_name(kind_name).with_context(|| {
        format!(
            "unknown kind {kind_name:?}: use school, partner, dsa, consentrule or erasurerequest"
        )
    })?;
    let name = match (parts.next(), parts.next()) {
        (Some(namespace), Some(name)) => Some((Some(namespace.to_owned()), name.to_owned())),
        (Some(name), None) => Some((None, name.to_owned())),
        _ => None,
    };
    Ok((vec![kind], name))
}

fn kind_by_name(name: &str) -> Option<Kind> {
    let name = name.to_ascii_lowercase();
    crate::crds::all().into_iter().find_map(|crd| {
        let names = &crd.spec.names;
        let matches = names.kind.to_ascii_lowercase() == name
            || names.plural == name
            || names.singular.as_deref() == Some(name.as_str())
            || names.short_names.iter().flatten().any(|s| *s == name);
        matches.then(|| Kind::from_name(&names.kind)).flatten()
    })
}

/// A kubectl-style table of `objects` using the kind's printer columns.
pub fn table(kind: Kind, objects: &[Value], now: Timestamp) -> String {
    let Some(crd) = crate::crds::all()
        .into_iter()
        .find(|c| c.spec.names.kind == kind.as_str())
    else {
        return String::new();
    };
    let columns = crd.spec.versions[0]
        .additional_printer_columns
        .clone()
        .unwrap_or_default();
    let mut rows = vec![
        std::iter::once("NAMESPACE".to_owned())
            .chain(std::iter::once(format!(
                "{}/NAME",
                crd.spec
                    .names
                    .short_names
                    .as_ref()
                    .and_then(|s| s.first())
                    .cloned()
                    .unwrap_or_default()
                    .to_uppercase()
            )))
            .chain(
                columns
                    .iter()
                    .filter(|c| c.priority.unwrap_or(0) == 0)
                    .map(|c| c.name.to_uppercase()),
            )
            .collect::<Vec<_>>(),
    ];
    for object in objects {
        let mut row = vec![
            text(&object["metadata"]["namespace"]),
            text(&object["metadata"]["name"]),
        ];
        for column in columns.iter().filter(|c| c.priority.unwrap_or(0) == 0) {
            let value = json_path(object, &column.json_path);
            row.push(if column.type_ == "date" {
                age(&value, now)
            } else {
                text(&value)
            });
        }
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        let _ = writeln!(out, "{}", line.join("   ").trim_end());
    }
    out.push('\n');
    out
}

/// Evaluates the JSONPath forms printer columns use: `.a.b` and `.a[?(@.k=="v")].c`.
fn json_path(object: &Value, path: &str) -> Value {
    let mut current = object.clone();
    let mut rest = path.trim_start_matches('.');
    while !rest.is_empty() {
        if let Some(filter) = rest.strip_prefix("[?(@.") {
            let Some((condition, after)) = filter.split_once(")]") else {
                return Value::Null;
            };
            let Some((key, wanted)) = condition.split_once("==") else {
                return Value::Null;
            };
            let wanted = wanted.trim_matches('"');
            current = current
                .as_array()
                .and_then(|items| items.iter().find(|i| i[key] == wanted).cloned())
                .unwrap_or(Value::Null);
            rest = after.trim_start_matches('.');
            continue;
        }
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        current = current.get(&rest[..end]).cloned().unwrap_or(Value::Null);
        rest = rest[end..].trim_start_matches('.');
    }
    current
}

fn text(value: &Value) -> String {
    match value {
        Value::Null => "<none>".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A timestamp as kubectl shows ages: `45s`, `12m`, `5h`, `3d`.
fn age(value: &Value, now: Timestamp) -> String {
    let Some(time) = value.as_str().and_then(|s| s.parse::<Timestamp>().ok()) else {
        return "<none>".to_owned();
    };
    let seconds = now.duration_since(time).as_secs();
    match seconds {
        s if s < 0 => "<future>".to_owned(),
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn printer_column_paths_are_evaluated() {
        let object = json!({ "status": { "conditions": [ { "type": "Verified", "status": "False" }, { "type": "Ready", "status": "True", "reason": "InEffect" } ] } });
        assert_eq!(
            json_path(&object, ".status.conditions[?(@.type==\"Ready\")].reason"),
            json!("InEffect")
        );
        assert_eq!(json_path(&object, ".status.missing"), Value::Null);
    }

    #[test]
    fn tables_show_the_printer_columns() {
        let now: Timestamp = "2026-12-03T12:00:00Z".parse().unwrap();
        let school = json!({ "metadata": { "name": "ashby", "namespace": "t", "creationTimestamp": null },
            "status": { "people": 212, "cacheRefreshedAt": "2026-12-03T11:55:00Z", "nextRefreshAt": "2026-12-04T02:30:00Z",
                "conditions": [ { "type": "Ready", "status": "True", "reason": "Converged" } ] } });
        let table = table(Kind::School, &[school], now);
        let lines: Vec<&str> = table.lines().collect();
        assert!(
            lines[0].starts_with(
                "NAMESPACE   SCH/NAME   READY   REASON      PEOPLE   CACHE-AGE   NEXT-REFRESH"
            ),
            "{table}"
        );
        assert!(
            lines[1].contains("ashby") && lines[1].contains("212") && lines[1].contains("5m"),
            "{table}"
        );
    }
}
