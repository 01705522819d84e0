//! `accord demo`: the example Trust end to end on this machine.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

use crate::cache::{Cache, KeySources, MasterKey};
use crate::controller::extract::SecretsDir;
use crate::controller::{Controller, Loaded, Options, load};
use crate::delivery::send::RetryPolicy;
use crate::demo::{RunningPartners, provision, serve_partners};
use crate::state::State;

/// Arguments of `accord demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The Trust's folder of YAML.
    #[arg(long, value_name = "PATH", default_value = "examples")]
    path: PathBuf,
    /// Where the demo keeps its state, its partners' stores, certificates and secrets.
    #[arg(long, value_name = "DIR", default_value = ".accord-demo")]
    state: PathBuf,
    /// Converge once, show the results and exit.
    #[arg(long)]
    once: bool,
    /// Where to serve the partner pull API and the portal.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
    /// The portal; without --portal-tokens the demo issues a DPO and a school-staff token.
    #[command(flatten)]
    portal: super::run::PortalArgs,
}

/// Runs `accord demo`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("failed to start the runtime")?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: Args) -> anyhow::Result<ExitCode> {
    let resources = match load(&args.path, None) {
        Loaded::Valid(declaration) => declaration.resources,
        Loaded::Invalid { errors, .. } => {
            for error in &errors {
                eprintln!("{error}");
            }
            bail!(
                "{} does not validate; fix the findings above",
                args.path.display()
            );
        }
    };

    let partners_dir = args.state.join("partners");
    let secrets = args.state.join("secrets");
    let kits = provision(&resources, &partners_dir, &secrets)?;
    let partners = serve_partners(kits).await?;
    for (kit, running) in &partners.receivers {
        println!(
            "partner {} receiving at https://{} as {}",
            kit.partner,
            running.address(),
            kit.host.as_deref().unwrap_or("-")
        );
    }

    let state = State::open(&args.state).await?;
    let master = MasterKey::load(&KeySources::from_env(None), &args.state)?;
    let cache = Cache::new(state, master).await?;
    let options = Options {
        path: args.path.clone(),
        keyring: None,
        secrets: SecretsDir(secrets.clone()),
        resolve: partners.resolve(),
        retry: RetryPolicy::default(),
    };
    let mut controller = Controller::new(options, cache);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let mut portal_args = args.portal.clone();
    let issued = if portal_args.portal_tokens.is_none() {
        let (file, issued) = issue_demo_tokens(&args.state, &resources)?;
        portal_args.portal_tokens = Some(file);
        issued
    } else {
        Vec::new()
    };
    let mut context = controller.api_context();
    context.portal = std::sync::Arc::new(portal_args.portal(&args.path)?);
    let api = crate::api::spawn(listener, context)?;

    let outcome = controller.reconcile(Timestamp::now()).await?;
    for failure in &outcome.failures {
        eprintln!("error: {failure}");
    }
    pull_as_partners(&partners, api.address).await;
    print_where_to_look(&args, &partners, api.address);
    print_sign_in(api.address, &issued);

    if !args.once {
        println!(
            "\nRunning: edit {} and watch it converge; Ctrl-C stops.",
            args.path.display()
        );
        controller.run(super::run::shutdown()).await?;
    }
    api.stop().await;
    partners.stop().await;
    Ok(if outcome.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Each pulling partner calls the pull API as a partner would: its agreements, then the
/// first page of every area at every school.
async fn pull_as_partners(partners: &RunningPartners, api: std::net::SocketAddr) {
    let client = reqwest::Client::new();
    for kit in &partners.pulling {
        let Some(token) = kit
            .pull_token
            .as_ref()
            .and_then(|t| std::fs::read_to_string(t).ok())
        else {
            continue;
        };
        let get = |path: String| {
            let request = client
                .get(format!("http://{api}{path}"))
                .bearer_auth(token.trim());
            async move {
                let response = request.send().await.ok()?;
                let bytes = response.bytes().await.ok()?;
                serde_json::from_slice::<Value>(&bytes).ok()
            }
        };
        let Some(listing) = get("/partner/v1/agreements".to_owned()).await else {
            println!("partner {} could not list its agreements", kit.partner);
            continue;
        };
        for agreement in listing["agreements"].as_array().into_iter().flatten() {
            let name = agreement["agreement"].as_str().unwrap_or_default();
            let areas: Vec<String> = agreement["data"]
                .as_object()
                .map(|d| d.keys().cloned().collect())
                .unwrap_or_default();
            for school in agreement["schools"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                for area in &areas {
                    let page = get(format!(
                        "/partner/v1/agreements/{name}/schools/{school}/{area}?limit=1000"
                    ))
                    .await;
                    let total = page.as_ref().and_then(|p| p["total"].as_u64()).unwrap_or(0);
                    println!(
                        "partner {} pulled {area} of {school} under {name}: {total} record(s)",
                        kit.partner
                    );
                }
            }
        }
    }
}

fn print_where_to_look(args: &Args, partners: &RunningPartners, api: std::net::SocketAddr) {
    let state = args.state.display();
    println!("\nWhere to look:");
    println!("  accord status --state {state}             every resource and what flowed");
    println!("  accord audit verify --state {state}       the ledger's hash chain");
    println!("  accord locate SOURCED_ID --school brook-primary --state {state}");
    println!(
        "                                            one pupil's flows, e.g. stu-139202-00001"
    );
    for (kit, _) in &partners.receivers {
        println!(
            "  {}    what {} holds (journal of every message received)",
            kit.store().join("journal").display(),
            kit.partner
        );
    }
    println!(
        "  http://{api}/partner/v1/                   the pull API (bearer token in {})",
        args.state.join("partners/<partner>/pull-token").display()
    );
}

/// A token the demo issued: what it is for, and the file holding it.
struct Issued {
    who: String,
    file: PathBuf,
}

/// Issues a Trust DPO token and a school-staff token for the first school, valid for 30
/// days, into `<state>/portal/`; each token is kept in a file of its own, mode 0600.
fn issue_demo_tokens(
    state: &std::path::Path,
    resources: &crate::resources::ResourceSet,
) -> anyhow::Result<(PathBuf, Vec<Issued>)> {
    use crate::portal::auth::{Role, TokensFile};
    let dir = state.join("portal");
    let expires = Timestamp::now()
        .checked_add(k8s_openapi::jiff::SignedDuration::from_hours(30 * 24))
        .context("cannot compute the tokens' expiry")?;
    let mut file = TokensFile::default();
    let mut issued = Vec::new();
    let school = resources
        .schools
        .first()
        .map(|s| crate::resources::ObjectKey::of(s).to_string());
    let wanted = [(
        Role::TrustDpo,
        None,
        "demo-dpo",
        "dpo-token",
        "the Trust DPO".to_owned(),
    )]
    .into_iter()
    .chain(school.map(|s| {
        let who = format!("staff of {s}");
        (
            Role::SchoolStaff,
            Some(s),
            "demo-school-staff",
            "staff-token",
            who,
        )
    }));
    for (role, school, label, name, who) in wanted {
        let token = file
            .issue(role, school, label, expires)
            .context("cannot make a random token")?;
        let path = dir.join(name);
        crate::portal::auth::write_private(&path, token.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
        issued.push(Issued { who, file: path });
    }
    let tokens = dir.join("tokens.yaml");
    file.save(&tokens)
        .with_context(|| format!("cannot write {}", tokens.display()))?;
    Ok((tokens, issued))
}

fn print_sign_in(api: std::net::SocketAddr, issued: &[Issued]) {
    println!("  http://{api}/portal/                      the transparency portal");
    for token in issued {
        println!(
            "    sign in as {} with the token in {}",
            token.who,
            token.file.display()
        );
    }
}
