//! `accord locate`: every partner, agreement, field and date one person's data went to,
//! and which deletion notices were acknowledged, from the ledger.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::ledger::summary::{PersonAtPartner, person_flows};
use crate::ledger::{EntryKind, Ledger, LedgerStore};
use crate::portal::reports::subject_access_json;
use crate::state::State;

/// Arguments of `accord locate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The person's MIS sourcedId.
    #[arg(value_name = "SOURCED_ID")]
    sourced_id: String,
    /// The school, as NAME or NAMESPACE/NAME.
    #[arg(long, value_name = "NAME")]
    school: String,
    /// The state folder `accord run` uses.
    #[arg(long, value_name = "DIR", default_value = ".accord")]
    state: PathBuf,
    #[command(flatten)]
    database: super::database::DatabaseArgs,
    /// `text`, or `json` for tools.
    #[arg(long, short = 'o', value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"])]
    output: String,
}

/// Runs `accord locate`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("failed to start the runtime")?;
    runtime.block_on(async {
        let state = args
            .database
            .open_existing(&args.state, "nothing has flowed yet")
            .await?;
        let school = resolve_school(&state, &args.school).await?;
        let ledger = Ledger::new(state);
        let history = ledger.history(&school, &args.sourced_id).await?;
        let flows = person_flows(&history);
        let erased = history
            .iter()
            .find(|e| e.body.kind == EntryKind::Erasure)
            .map(|e| e.body.at.clone());
        if args.output == "json" {
            println!(
                "{}",
                serde_json::to_string_pretty(&subject_access_json(
                    &args.sourced_id,
                    &school,
                    &flows,
                    erased.as_deref()
                ))?
            );
        } else {
            print!(
                "{}",
                report_text(&args.sourced_id, &school, &flows, erased.as_deref())
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `NAME` is looked up among the schools `accord run` reported; `NAMESPACE/NAME` is taken
/// as it is.
async fn resolve_school(state: &State, school: &str) -> anyhow::Result<String> {
    if school.contains('/') {
        return Ok(school.to_owned());
    }
    let known: Vec<String> = state
        .statuses::<serde_json::Value>("School")
        .await?
        .into_iter()
        .map(|(r, _)| format!("{}/{}", r.namespace, r.name))
        .filter(|k| k.ends_with(&format!("/{school}")))
        .collect();
    match known.as_slice() {
        [one] => Ok(one.clone()),
        [] => bail!("no school {school} in this state; give it as NAMESPACE/NAME"),
        _ => bail!(
            "school {school} is in several namespaces ({}); give it as NAMESPACE/NAME",
            known.join(", ")
        ),
    }
}

fn report_text(
    subject: &str,
    school: &str,
    flows: &[PersonAtPartner],
    erased: Option<&str>,
) -> String {
    let mut out = format!("{subject} at {school}\n");
    if flows.is_empty() {
        out.push_str("  no data about this person has gone to any partner\n");
    }
    for flow in flows {
        out.push_str(&format!(
            "\n  partner {} under agreement {}, data kept in {}\n",
            flow.partner, flow.agreement, flow.partner_location
        ));
        let fields: Vec<&str> = flow.fields.iter().map(String::as_str).collect();
        out.push_str(&format!("    fields:   {}\n", fields.join(", ")));
        out.push_str(&format!(
            "    shared:   first {}, last {}{}\n",
            flow.first_shared.as_deref().unwrap_or("-"),
            flow.last_shared.as_deref().unwrap_or("-"),
            if flow.delivered {
                ", delivered"
            } else {
                ", not yet confirmed by the partner"
            }
        ));
        match (&flow.notified_at, &flow.acknowledged_at) {
            (Some(at), Some(ack)) => out.push_str(&format!(
                "    deletion: notice {at} ({}), acknowledged {ack}\n",
                flow.reason.as_deref().unwrap_or("-")
            )),
            (Some(at), None) => out.push_str(&format!(
                "    deletion: notice {at} ({}), NOT yet acknowledged\n",
                flow.reason.as_deref().unwrap_or("-")
            )),
            _ => out.push_str("    deletion: none; the partner may hold this data\n"),
        }
    }
    if let Some(at) = erased {
        out.push_str(&format!("\n  erased from Accord's cache at {at}\n"));
    }
    out
}
