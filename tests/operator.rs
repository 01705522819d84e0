//! `accord operator` against a real kube-apiserver and etcd (see `kube_env`), driven with
//! the real `kubectl` as a Trust's IT team would drive it, and running with the RBAC the
//! Helm chart renders: its ServiceAccount's token, not a cluster administrator's.

mod common;
mod kube_env;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Partners, Trust, examples};
use kube_env::{KubeEnv, env};
use sha2::Digest as _;

/// The release name the tests install the chart under; the ServiceAccount is
/// `<release>-operator`.
const RELEASE: &str = "accord";
const SERVICE_ACCOUNT: &str = "accord-operator";

/// The folders of a Trust's repository that hold resources.
const KIND_FOLDERS: [&str; 5] = ["schools", "partners", "agreements", "consent", "erasures"];

#[test]
fn the_example_trust_applied_with_kubectl_turns_ready_with_real_figures() {
    let env = env();
    let ns = "riverside-trust";
    env.kubectl_ok(&["create", "namespace", ns]);
    let kubeconfig = install_chart(env, ns);
    let dir = tempfile::tempdir().unwrap();
    let partners = Partners::start(dir.path(), &examples());
    load_secrets(env, ns, &dir.path().join("secrets"));
    load_keyring(env, ns, &examples().join("keyring"));

    // What the IT team types: the CRDs (established already, as kubectl needs them to be
    // before it can map the kinds) and the Trust's folders.
    let crds = examples().parent().unwrap().join("crds");
    let mut apply = vec![
        "apply".to_owned(),
        "-f".to_owned(),
        crds.display().to_string(),
    ];
    for dir in KIND_FOLDERS {
        apply.extend(["-f".to_owned(), examples().join(dir).display().to_string()]);
    }
    let apply: Vec<&str> = apply.iter().map(String::as_str).collect();
    let applied = env.kubectl_ok(&apply);
    assert!(
        applied.contains("datasharingagreement.accord.dev/homework-hub created"),
        "{applied}"
    );

    let state = dir.path().join("state");
    let operator = Operator::start(
        env,
        &kubeconfig,
        ns,
        "replica-a",
        &state,
        &examples().join("schools"),
        &partners,
    );
    let waited = env.kubectl(&[
        "wait",
        "--for=condition=Ready",
        "dsa",
        "--all",
        "-n",
        ns,
        "--timeout=240s",
    ]);
    assert!(
        waited.status.success(),
        "not every agreement turned Ready: {}\n{}",
        String::from_utf8_lossy(&waited.stderr),
        env.kubectl_ok(&["get", "dsa", "-n", ns, "-o", "yaml"])
    );

    // The probes answer, and the metrics count the passes of the replica that leads.
    assert_eq!(operator.probe("/healthz").as_deref(), Some("ok"));
    assert_eq!(operator.probe("/readyz").as_deref(), Some("ok"));
    let metrics = operator.probe("/metrics").unwrap();
    assert!(metrics.contains("accord_operator_leader 1"), "{metrics}");
    // The pass that wrote Ready may still be finishing when kubectl sees it.
    wait_for(
        Duration::from_secs(30),
        "a finished pass in /metrics",
        || {
            let metrics = operator.probe("/metrics").unwrap_or_default();
            metric_sum(&metrics, "accord_operator_passes_total", "", "") >= 1.0
        },
    );

    // The leader serves the portal too, signing in with the tokens from its mounted file;
    // its flow map names the partners the ledger records.
    let (status, _) = operator.portal("/portal/api/v1/flows", None);
    assert_eq!(status, 401, "the portal answered without a token");
    let (status, flows) = operator.portal("/portal/api/v1/flows", Some(DPO_TOKEN));
    assert_eq!(status, 200, "{flows}");
    assert!(
        flows.contains("homework-hub") && flows.contains("ashby-primary"),
        "{flows}"
    );

    // The printer columns carry the ledger's figures, and they agree with the partner.
    let table = env.kubectl_ok(&["get", "dsa", "-n", ns]);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "READY",
            "REASON",
            "PARTNER",
            "SCHOOLS",
            "PEOPLE",
            "LAST-DELIVERY",
            "AGE"
        ]
    );
    let row = table
        .lines()
        .find(|l| l.starts_with("homework-hub "))
        .unwrap_or_else(|| panic!("no homework-hub row:\n{table}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        &cells[1..4],
        ["True", "InEffect", "homework-hub"],
        "{table}"
    );
    let people: usize = cells[5].parse().unwrap();
    let hub = partners.holdings("homework-hub");
    let held: usize = ["ashby-primary", "brook-primary", "carlton-academy"]
        .iter()
        .map(|s| {
            hub.people(&format!("{ns}/homework-hub"), &format!("{ns}/{s}"))
                .len()
        })
        .sum();
    assert!(people > 0, "{table}");
    assert_eq!(
        people, held,
        "the PEOPLE column and the partner disagree:\n{table}"
    );
    let schools: usize = cells[4].parse().unwrap();
    assert_eq!(schools, 3, "{table}");

    // The schema refuses a bad resource before anything stores it.
    // /metrics tells the same story as the ledger and the partner: the people it holds,
    // the messages it applied, and the bytes of them it keeps.
    let metrics = operator.probe("/metrics").unwrap();
    let agreement = format!("{ns}/homework-hub");
    let partner = format!("{ns}/homework-hub");
    let shared = metric_sum(
        &metrics,
        "accord_operator_people_shared",
        "agreement",
        &agreement,
    );
    assert_eq!(shared, held as f64, "{metrics}");
    let batches = metric_sum(
        &metrics,
        "accord_operator_batches_delivered_total",
        "partner",
        &partner,
    );
    let notices = metric_sum(
        &metrics,
        "accord_operator_deletion_notices_delivered_total",
        "partner",
        &partner,
    );
    assert!(batches >= 1.0, "{metrics}");
    assert_eq!(notices, hub.deletion_notices() as f64, "{metrics}");
    assert_eq!(batches + notices, hub.batches().len() as f64, "{metrics}");
    let journal = partners.kit("homework-hub").store().join("journal");
    let kept: u64 = std::fs::read_dir(&journal)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    let bytes = metric_sum(
        &metrics,
        "accord_operator_bytes_sent_total",
        "partner",
        &partner,
    );
    assert_eq!(bytes, kept as f64, "{metrics}");

    // The example erasure request completes, and its time from creation to Ready is
    // observed once.
    wait_ready(env, ns, "erasurerequest/brook-2026-031");
    let metrics = operator.probe("/metrics").unwrap();
    let erasures = metric_sum(&metrics, "accord_operator_erasure_seconds_count", "", "");
    assert_eq!(erasures, 1.0, "{metrics}");

    let bad = std::fs::read_to_string(examples().join("agreements/maths-circle.yaml"))
        .unwrap()
        .replace("validFrom: \"2026-09-01\"", "validFrom: \"2026-13-01\"");
    let refused = env.kubectl_stdin(&["apply", "--dry-run=server", "-f", "-"], &bad);
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        message.contains("spec.validFrom") && message.contains("should match"),
        "{message}"
    );

    // A spec changed after signing stops verifying.
    env.kubectl_ok(&[
        "patch",
        "dsa",
        "maths-circle",
        "-n",
        ns,
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"purpose":"Weekly maths puzzles, now with a leaderboard of every pupil"}}"#,
    ]);
    env.kubectl_ok(&[
        "wait",
        "--for=condition=Verified=False",
        "dsa/maths-circle",
        "-n",
        ns,
        "--timeout=120s",
    ]);
    let reason = env.kubectl_ok(&[
        "get",
        "dsa",
        "maths-circle",
        "-n",
        ns,
        "-o",
        r#"jsonpath={.status.conditions[?(@.type=="Verified")].reason}"#,
    ]);
    assert_eq!(reason, "SignatureMismatch");
    let table = env.kubectl_ok(&["get", "events", "-n", ns, "-o", "wide"]);
    assert!(
        table.contains("datasharingagreement/maths-circle"),
        "{table}"
    );

    // Each transition is an Event a person reads with kubectl: the lost signature, and the
    // completed erasure.
    wait_for(Duration::from_secs(30), "the Verified=False event", || {
        let found = events(
            env,
            ns,
            "DataSharingAgreement",
            "maths-circle",
            "SignatureMismatch",
        );
        found
            .iter()
            .any(|e| e["type"] == "Warning" && message_of(e).contains("Verified=False"))
    });
    let erased = env.kubectl_ok(&[
        "get",
        "erasurerequest",
        "brook-2026-031",
        "-n",
        ns,
        "-o",
        r#"jsonpath={.status.conditions[?(@.type=="Ready")].reason}"#,
    ]);
    let ready = events(env, ns, "ErasureRequest", "brook-2026-031", &erased);
    assert!(
        ready
            .iter()
            .any(|e| e["type"] == "Normal" && message_of(e).contains("Ready=True")),
        "no {erased} event for the erasure request: {ready:?}"
    );
}

/// The Events about `kind/name` with `reason`, as `kubectl get events` shows them.
fn events(env: &KubeEnv, ns: &str, kind: &str, name: &str, reason: &str) -> Vec<serde_json::Value> {
    let text = env.kubectl_ok(&["get", "events", "-n", ns, "-o", "json"]);
    let events: serde_json::Value = serde_json::from_str(&text).unwrap();
    events["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| {
            e["involvedObject"]["kind"] == kind
                && e["involvedObject"]["name"] == name
                && e["reason"] == reason
        })
        .cloned()
        .collect()
}

fn message_of(event: &serde_json::Value) -> String {
    event["message"]
        .as_str()
        .or(event["note"].as_str())
        .unwrap_or("")
        .to_owned()
}

#[test]
fn deleting_an_agreement_waits_for_the_partner_to_have_the_deletion_notice() {
    let env = env();
    let (trust, ns, kubeconfig) = deployed_trust(env, "delete");
    let state = trust.state();
    let trust_path = trust.path();
    let operator = Operator::start(
        env,
        &kubeconfig,
        &ns,
        "replica-a",
        &state,
        &trust.path().join("schools"),
        &trust.partners,
    );
    wait_ready(env, &ns, "dsa/reading-quest");
    let agreement = format!("{ns}/reading-quest");
    let brook = format!("{ns}/brook-primary");
    assert!(
        !trust
            .partners
            .holdings("reading-quest")
            .people(&agreement, &brook)
            .is_empty()
    );

    // With the partner down, the agreement stays, held by the finalizer.
    let mut partners = trust.partners;
    partners.down();
    delete_and_see_it_held(env, &ns, "dsa", "reading-quest");
    assert!(
        !partners
            .holdings("reading-quest")
            .people(&agreement, &brook)
            .is_empty(),
        "nothing could have reached the partner"
    );

    // Once the partner is back and has the notice, the agreement goes. The receivers come
    // back on new loopback ports, so the operator restarts with their new addresses.
    drop(operator);
    partners.up();
    let _operator = Operator::start(
        env,
        &kubeconfig,
        &ns,
        "replica-a",
        &state,
        &trust_path.join("schools"),
        &partners,
    );
    env.kubectl_ok(&[
        "wait",
        "--for=delete",
        "dsa/reading-quest",
        "-n",
        &ns,
        "--timeout=180s",
    ]);
    let quest = partners.holdings("reading-quest");
    assert!(
        quest.people(&agreement, &brook).is_empty(),
        "the partner still holds pupils"
    );
    assert!(quest.deletion_notices() >= 1);
}

#[test]
fn the_operator_is_refused_what_the_chart_does_not_grant() {
    let env = env();
    let ns = env.namespace("refused");
    let kubeconfig = install_chart(env, &ns);

    // Granted: the Accord kinds in its own namespace.
    let allowed = env.kubectl_as(
        &kubeconfig,
        &[
            "auth",
            "can-i",
            "list",
            "datasharingagreements.accord.dev",
            "-n",
            &ns,
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&allowed.stdout).trim(),
        "yes",
        "{}\n{}",
        String::from_utf8_lossy(&allowed.stderr),
        String::from_utf8_lossy(
            &env.kubectl_as(&kubeconfig, &["auth", "can-i", "--list", "-n", &ns])
                .stdout
        )
    );

    // Not granted: Secrets elsewhere, deleting agreements, or the cluster's nodes.
    let secrets = env.kubectl_as(&kubeconfig, &["get", "secrets", "-n", "kube-system"]);
    assert!(!secrets.status.success());
    assert!(String::from_utf8_lossy(&secrets.stderr).contains("forbidden"));
    let delete = env.kubectl_as(
        &kubeconfig,
        &[
            "auth",
            "can-i",
            "delete",
            "datasharingagreements.accord.dev",
            "-n",
            &ns,
        ],
    );
    assert_eq!(String::from_utf8_lossy(&delete.stdout).trim(), "no");

    // Pointed at a namespace the chart was not installed in, the operator cannot start.
    let other = env.namespace("elsewhere");
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_accord"))
        .args(["operator", "--namespace", &other])
        .args(local_dirs(dir.path(), dir.path()))
        .env("KUBECONFIG", &kubeconfig)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("forbidden"), "{stderr}");
}

#[test]
fn a_second_replica_takes_over_when_the_leader_is_killed_mid_pass() {
    let env = env();
    let (trust, ns, kubeconfig) = deployed_trust(env, "takeover");

    let state = trust.state();
    let schools = trust.path().join("schools");
    let mut first = Operator::start(
        env,
        &kubeconfig,
        &ns,
        "replica-a",
        &state,
        &schools,
        &trust.partners,
    );
    wait_holder(env, &ns, "replica-a");
    let second = Operator::start(
        env,
        &kubeconfig,
        &ns,
        "replica-b",
        &state,
        &schools,
        &trust.partners,
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        holder(env, &ns),
        "replica-a",
        "the standby must not take the Lease"
    );

    // Kill the leader while it works through the first pass.
    wait_for(
        Duration::from_secs(120),
        "the leader to start delivering",
        || trust.partners.holdings("homework-hub").record_count() > 0,
    );
    first.kill();

    wait_holder(env, &ns, "replica-b");
    let waited = env.kubectl(&[
        "wait",
        "--for=condition=Ready",
        "dsa",
        "--all",
        "-n",
        &ns,
        "--timeout=240s",
    ]);
    assert!(waited.status.success(), "{}", second.log_tail());

    // The ledger (through status) and the partner agree on who was shared, and the
    // ledger's chain is whole.
    for (agreement, partner) in [
        ("homework-hub", "homework-hub"),
        ("reading-quest", "reading-quest"),
    ] {
        let people: usize = env
            .kubectl_ok(&[
                "get",
                "dsa",
                agreement,
                "-n",
                &ns,
                "-o",
                "jsonpath={.status.peopleShared}",
            ])
            .parse()
            .unwrap();
        let holdings = trust.partners.holdings(partner);
        let held: usize = ["ashby-primary", "brook-primary", "carlton-academy"]
            .iter()
            .map(|s| {
                holdings
                    .people(&format!("{ns}/{agreement}"), &format!("{ns}/{s}"))
                    .len()
            })
            .sum();
        assert_eq!(people, held, "{agreement}: ledger and partner disagree");
    }
    let verify = common::accord(&["audit", "verify", "--state", state.to_str().unwrap()]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}

/// A running `accord operator` process, stopped on drop.
struct Operator {
    child: Option<Child>,
    log: PathBuf,
    /// Where `/healthz`, `/readyz` and `/metrics` are served.
    probes: String,
    /// Where the pull API and the portal are served.
    api: String,
}

/// The Trust DPO's portal token every test operator accepts.
const DPO_TOKEN: &str = "operator-test-dpo-token";

impl Operator {
    fn start(
        env: &KubeEnv,
        kubeconfig: &Path,
        namespace: &str,
        identity: &str,
        state: &Path,
        mis_root: &Path,
        partners: &Partners,
    ) -> Operator {
        let work = env.dir.path().join(format!("work-{namespace}-{identity}"));
        let log = env
            .dir
            .path()
            .join(format!("operator-{namespace}-{identity}.log"));
        let dirs = local_dirs(state, &work);
        let probes = dirs[5].clone();
        let api = dirs[7].clone();
        // The portal's tokens file, as the chart mounts it from a Secret.
        let tokens = env
            .dir
            .path()
            .join(format!("portal-tokens-{namespace}-{identity}.yaml"));
        let digest = sha2::Sha256::digest(DPO_TOKEN.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        std::fs::write(
            &tokens,
            format!(
                "tokens:\n  - sha256: {hex}\n    role: trust-dpo\n    label: dpo-office\n    expires: 2099-01-01T00:00:00Z\n"
            ),
        )
        .unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_accord"));
        command
            .args(["operator", "--namespace", namespace, "--identity", identity])
            .args(["--lease-seconds", "4"])
            .args(&dirs)
            .arg("--portal-tokens")
            .arg(&tokens)
            .arg("--mis-root")
            .arg(mis_root)
            .args(partners.resolve_args())
            .env("KUBECONFIG", kubeconfig)
            .env("ACCORD_LOG", "info")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(log.with_extension("err")).unwrap());
        Operator {
            child: Some(command.spawn().unwrap()),
            log,
            probes,
            api,
        }
    }

    /// `GET path` on the API port with an optional bearer token: the status and the body.
    fn portal(&self, path: &str, token: Option<&str>) -> (u16, String) {
        use std::io::{Read, Write};
        let Ok(mut stream) = std::net::TcpStream::connect(&self.api) else {
            return (0, String::new());
        };
        let authorization = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let request = format!(
            "GET {path} HTTP/1.0\r\nHost: {}\r\n{authorization}\r\n",
            self.api
        );
        if stream.write_all(request.as_bytes()).is_err() {
            return (0, String::new());
        }
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or_default();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, body.to_owned())
    }

    /// The body of `GET path` on the probes port, or `None` when it does not answer 200.
    fn probe(&self, path: &str) -> Option<String> {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&self.probes).ok()?;
        write!(
            stream,
            "GET {path} HTTP/1.0\r\nHost: {}\r\n\r\n",
            self.probes
        )
        .ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        let (head, body) = response.split_once("\r\n\r\n")?;
        head.starts_with("HTTP/1.0 200").then(|| body.to_owned())
    }

    /// SIGKILL: no chance to give up the Lease or finish the pass.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn log_tail(&self) -> String {
        let mut text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.push_str(&std::fs::read_to_string(self.log.with_extension("err")).unwrap_or_default());
        let lines: Vec<&str> = text.lines().rev().take(40).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join("\n")
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("operator log:\n{}", self.log_tail());
        }
        self.kill();
    }
}

// State, work folder and loopback ports of one operator process.
fn local_dirs(state: &Path, work: &Path) -> Vec<String> {
    let port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .to_string()
    };
    vec![
        "--state".to_owned(),
        state.display().to_string(),
        "--work".to_owned(),
        work.display().to_string(),
        "--probes".to_owned(),
        port(),
        "--listen".to_owned(),
        port(),
    ]
}

/// Renders the chart into `namespace` and applies it; returns a kubeconfig with a token
/// of the chart's ServiceAccount.
fn install_chart(env: &KubeEnv, namespace: &str) -> PathBuf {
    install_crds(env);
    let chart = examples().parent().unwrap().join("charts/accord");
    let rendered = env.helm(&[
        "template",
        RELEASE,
        chart.to_str().unwrap(),
        "--namespace",
        namespace,
    ]);
    assert!(
        rendered.status.success(),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    let applied = env.kubectl_stdin(
        &["apply", "-f", "-"],
        &String::from_utf8_lossy(&rendered.stdout),
    );
    assert!(
        applied.status.success(),
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );
    env.service_account_kubeconfig(namespace, SERVICE_ACCOUNT)
}

/// The CRDs, once for the whole environment (`kubectl apply -f crds/`).
fn install_crds(env: &KubeEnv) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let crds = examples().parent().unwrap().join("crds");
        env.kubectl_ok(&["apply", "-f", crds.to_str().unwrap()]);
        env.kubectl_ok(&[
            "wait",
            "--for=condition=Established",
            "crd",
            "--all",
            "--timeout=60s",
        ]);
    });
}

/// Each folder `<dir>/<name>/` as the Secret `name`, one key per file.
fn load_secrets(env: &KubeEnv, namespace: &str, dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let from = format!("--from-file={}", path.display());
        env.kubectl_ok(&["create", "secret", "generic", &name, &from, "-n", namespace]);
    }
}

/// The keyring folder as the ConfigMap `accord-keyring`.
fn load_keyring(env: &KubeEnv, namespace: &str, dir: &Path) {
    let from = format!("--from-file={}", dir.display());
    env.kubectl_ok(&[
        "create",
        "configmap",
        "accord-keyring",
        &from,
        "-n",
        namespace,
    ]);
}

/// A copy of the example Trust in a namespace of its own, with the chart, its Secrets and
/// keyring installed and its resources applied; returns the operator's kubeconfig too.
fn deployed_trust(env: &KubeEnv, prefix: &str) -> (Trust, String, PathBuf) {
    let (trust, ns) = rehomed_trust(env, prefix);
    let kubeconfig = install_chart(env, &ns);
    load_secrets(env, &ns, &trust.dir.path().join("secrets"));
    load_keyring(env, &ns, &trust.path().join("keyring"));
    apply_folders(env, &trust.path());
    (trust, ns, kubeconfig)
}

/// A copy of the example Trust moved into a namespace of the test's own, re-signed.
fn rehomed_trust(env: &KubeEnv, prefix: &str) -> (Trust, String) {
    let trust = Trust::new();
    let ns = env.namespace(prefix);
    for dir in KIND_FOLDERS {
        for entry in std::fs::read_dir(trust.path().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            std::fs::write(
                &path,
                text.replace("namespace: riverside-trust", &format!("namespace: {ns}")),
            )
            .unwrap();
            if dir == "agreements" {
                trust.resign(&path);
            }
        }
    }
    (trust, ns)
}

/// `kubectl apply -f` of each resource folder of a Trust's repository.
fn apply_folders(env: &KubeEnv, trust: &Path) {
    let files: Vec<String> = KIND_FOLDERS
        .iter()
        .flat_map(|dir| ["-f".to_owned(), trust.join(dir).display().to_string()])
        .collect();
    let mut args = vec!["apply"];
    args.extend(files.iter().map(String::as_str));
    env.kubectl_ok(&args);
}

fn wait_ready(env: &KubeEnv, namespace: &str, object: &str) {
    env.kubectl_ok(&[
        "wait",
        "--for=condition=Ready",
        object,
        "-n",
        namespace,
        "--timeout=240s",
    ]);
}

fn holder(env: &KubeEnv, namespace: &str) -> String {
    let output = env.kubectl(&[
        "get",
        "lease",
        "accord-operator",
        "-n",
        namespace,
        "-o",
        "jsonpath={.spec.holderIdentity}",
    ]);
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn wait_holder(env: &KubeEnv, namespace: &str, identity: &str) {
    wait_for(
        Duration::from_secs(60),
        &format!("{identity} to hold the Lease"),
        || holder(env, namespace) == identity,
    );
}

fn wait_for(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_chart_lints_and_renders_restricted_pods_and_namespaced_rbac() {
    let chart = examples().parent().unwrap().join("charts/accord");
    let helm = |args: &[&str]| {
        Command::new(kube_env::binaries().join("helm"))
            .args(args)
            .env(
                "HELM_CACHE_HOME",
                std::env::temp_dir().join("accord-helm-cache"),
            )
            .env(
                "HELM_CONFIG_HOME",
                std::env::temp_dir().join("accord-helm-config"),
            )
            .output()
            .unwrap()
    };
    let lint = helm(&["lint", "--strict", chart.to_str().unwrap()]);
    assert!(
        lint.status.success(),
        "{}",
        String::from_utf8_lossy(&lint.stdout)
    );

    let rendered = helm(&[
        "template",
        RELEASE,
        chart.to_str().unwrap(),
        "--namespace",
        "trust",
    ]);
    assert!(
        rendered.status.success(),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    let documents: Vec<serde_json::Value> = serde_yaml::Deserializer::from_slice(&rendered.stdout)
        .filter_map(|d| serde::Deserialize::deserialize(d).ok())
        .filter(|d: &serde_json::Value| d.is_object())
        .collect();
    let kinds: Vec<&str> = documents
        .iter()
        .filter_map(|d| d["kind"].as_str())
        .collect();
    for kind in [
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "Deployment",
        "Service",
        "NetworkPolicy",
    ] {
        assert!(kinds.contains(&kind), "no {kind} in {kinds:?}");
    }
    // Nothing cluster-wide: the operator is granted its namespace only.
    assert!(!kinds.iter().any(|k| k.starts_with("Cluster")), "{kinds:?}");

    let deployment = documents
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .unwrap();
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let container = &pod["containers"][0]["securityContext"];
    assert_eq!(container["allowPrivilegeEscalation"], false);
    assert_eq!(container["readOnlyRootFilesystem"], true);
    assert_eq!(
        container["capabilities"]["drop"],
        serde_json::json!(["ALL"])
    );

    // The portal's tokens come from a Secret mounted read-only, named in the values.
    let with_tokens = helm(&[
        "template",
        RELEASE,
        chart.to_str().unwrap(),
        "--set",
        "portalTokensSecret=accord-portal-tokens",
    ]);
    assert!(with_tokens.status.success());
    let text = String::from_utf8_lossy(&with_tokens.stdout);
    assert!(
        text.contains("--portal-tokens=/etc/accord/portal/tokens.yaml")
            && text.contains("secretName: accord-portal-tokens"),
        "{text}"
    );

    // values.schema.json refuses a value it does not know.
    let bad = helm(&[
        "template",
        RELEASE,
        chart.to_str().unwrap(),
        "--set",
        "replicas=many",
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("replicas"));
}

#[test]
fn the_chart_carries_the_generated_crds() {
    let root = examples().parent().unwrap().to_owned();
    for crd in accord::crds::all() {
        let name = accord::crds::file_name(&crd);
        let generated = accord::crds::render(&crd).unwrap();
        let charted = std::fs::read_to_string(root.join("charts/accord/crds").join(&name))
            .unwrap_or_default();
        assert_eq!(
            charted, generated,
            "charts/accord/crds/{name} is stale: cp crds/*.yaml charts/accord/crds/"
        );
    }
}
/// Deletes `kind/name` without waiting and checks, a few passes later, that the finalizer
/// still holds it.
fn delete_and_see_it_held(env: &KubeEnv, ns: &str, kind: &str, name: &str) {
    env.kubectl_ok(&["delete", kind, name, "-n", ns, "--wait=false"]);
    std::thread::sleep(Duration::from_secs(8));
    let held = env.kubectl_ok(&[
        "get",
        kind,
        name,
        "-n",
        ns,
        "-o",
        "jsonpath={.metadata.deletionTimestamp} {.metadata.finalizers}",
    ]);
    assert!(held.contains("accord.dev/cleanup"), "{held}");
}

/// The sum of the samples of metric `name` whose label `label` is `value` (every sample
/// when `label` is empty).
fn metric_sum(text: &str, name: &str, label: &str, value: &str) -> f64 {
    let wanted = format!("{label}=\"{value}\"");
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?;
            let (labels, number) = match rest.strip_prefix('{') {
                Some(rest) => rest.split_once("} ")?,
                None => ("", rest.strip_prefix(' ')?),
            };
            let matches = label.is_empty() || labels.split(',').any(|l| l == wanted);
            matches.then(|| number.trim().parse::<f64>().ok()).flatten()
        })
        .sum()
}
