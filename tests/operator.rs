//! `accord operator` against a real kube-apiserver and etcd (see `kube_env`), driven with
//! the real `kubectl` as a Trust's IT team would drive it, and running with the RBAC the
//! Helm chart renders: its ServiceAccount's token, not a cluster administrator's.

mod common;
mod kube_env;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Partners, examples};
use kube_env::node::Node;
use kube_env::trust::{
    KIND_FOLDERS, RELEASE, deployed_trust, holder, install_chart, load_keyring, load_secrets,
    wait_for, wait_holder, wait_ready,
};
use kube_env::{KubeEnv, env};
use sha2::Digest as _;

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

    // The schema refuses a bad resource before anything stores it.
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
fn deleting_a_partner_waits_for_its_notices_and_deleting_a_school_shreds_it() {
    let env = env();
    let (trust, ns, kubeconfig) = deployed_trust(env, "cleanup");
    let state = trust.state();
    let schools = trust.path().join("schools");
    let operator = Operator::start(
        env,
        &kubeconfig,
        &ns,
        "replica-a",
        &state,
        &schools,
        &trust.partners,
    );
    env.kubectl_ok(&[
        "wait",
        "--for=condition=Ready",
        "dsa",
        "--all",
        "-n",
        &ns,
        "--timeout=240s",
    ]);
    let quest = format!("{ns}/reading-quest");
    let held_by_quest = |partners: &Partners| -> usize {
        ["brook-primary", "carlton-academy"]
            .iter()
            .map(|s| {
                partners
                    .holdings("reading-quest")
                    .people(&quest, &format!("{ns}/{s}"))
                    .len()
            })
            .sum()
    };
    assert!(held_by_quest(&trust.partners) > 0);

    // The Trust removes the partner and its agreement; with the partner down, the Partner
    // stays, held by the finalizer.
    let mut partners = trust.partners;
    partners.down();
    env.kubectl_ok(&["delete", "dsa", "reading-quest", "-n", &ns, "--wait=false"]);
    delete_and_see_it_held(env, &ns, "partner", "reading-quest");

    // Back up (on new ports, so the operator restarts), the partner gets its deletion
    // notices, and only then does the Partner go.
    drop(operator);
    partners.up();
    let _operator = Operator::start(
        env,
        &kubeconfig,
        &ns,
        "replica-a",
        &state,
        &schools,
        &partners,
    );
    env.kubectl_ok(&[
        "wait",
        "--for=delete",
        "partner/reading-quest",
        "-n",
        &ns,
        "--timeout=180s",
    ]);
    assert_eq!(
        held_by_quest(&partners),
        0,
        "the partner went before its data did"
    );
    assert!(partners.holdings("reading-quest").deletion_notices() >= 1);
    wait_for(Duration::from_secs(30), "the deletion notice event", || {
        let found = events(
            env,
            &ns,
            "DataSharingAgreement",
            "reading-quest",
            "DeletionNoticeSent",
        );
        !found.is_empty()
    });

    // Deleting a School (once no agreement names it, as in git) destroys its key and
    // cache, tells its partners to delete, and then the School goes.
    let ashby = format!("{ns}/ashby-primary");
    let hub_agreement = format!("{ns}/homework-hub");
    assert!(
        !partners
            .holdings("homework-hub")
            .people(&hub_agreement, &ashby)
            .is_empty()
    );
    env.kubectl_ok(&[
        "delete",
        "dsa",
        "parent-messages",
        "-n",
        &ns,
        "--wait=false",
    ]);
    env.kubectl_ok(&[
        "delete",
        "school",
        "ashby-primary",
        "-n",
        &ns,
        "--wait=false",
    ]);
    env.kubectl_ok(&[
        "wait",
        "--for=delete",
        "school/ashby-primary",
        "-n",
        &ns,
        "--timeout=120s",
    ]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (entries, read) = runtime.block_on(async {
        let opened = accord::state::State::open(&state).await.unwrap();
        let master =
            accord::cache::MasterKey::load(&accord::cache::KeySources::default(), &state).unwrap();
        let cache = accord::cache::Cache::new(opened.clone(), master)
            .await
            .unwrap();
        let entries = cache.entries(&ashby).await.unwrap();
        let read = opened
            .extractions()
            .await
            .unwrap()
            .into_iter()
            .any(|r| r.school == ashby);
        (entries.len(), read)
    });
    assert_eq!(
        (entries, read),
        (0, false),
        "the school's cache outlived it"
    );
    wait_for(
        Duration::from_secs(60),
        "the hub to delete the school's pupils",
        || {
            partners
                .holdings("homework-hub")
                .people(&hub_agreement, &ashby)
                .is_empty()
        },
    );
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

/// What `accord operator` is told to read MIS data in Jobs, with the claims the test node
/// maps to local folders.
const JOBS: [&str; 8] = [
    "--extraction",
    "jobs",
    "--job-image",
    "ghcr.io/accord/accord:test",
    "--job-state-claim",
    "accord-operator-state",
    "--job-mis-claim",
    "trust-mis",
];

#[test]
fn each_school_is_read_by_a_job_it_owns_and_delivery_follows_the_job() {
    let env = env();
    let (trust, ns, kubeconfig) = deployed_trust(env, "jobs");
    let state = trust.state();
    let schools_dir = trust.path().join("schools");
    let node = Node::start(
        env,
        &ns,
        &[
            ("accord-operator-state", &state),
            ("trust-mis", &schools_dir),
        ],
    );
    let operator = Operator::start_with(
        env,
        &kubeconfig,
        &ns,
        "replica-a",
        &state,
        &schools_dir,
        &trust.partners,
        &JOBS,
    );
    // A School is Ready only once its first read has finished, here in a Job.
    let waited = env.kubectl(&[
        "wait",
        "--for=condition=Ready",
        "school",
        "--all",
        "-n",
        &ns,
        "--timeout=240s",
    ]);
    assert!(
        waited.status.success(),
        "{}\n{}\n{}",
        String::from_utf8_lossy(&waited.stderr),
        operator.log_tail(),
        node.output()
    );

    // Each school was read by a Job it owns, running accord extract in a restricted pod,
    // and its status names that Job.
    let jobs: serde_json::Value =
        serde_json::from_str(&env.kubectl_ok(&["get", "jobs", "-n", &ns, "-o", "json"])).unwrap();
    for school in ["ashby-primary", "brook-primary", "carlton-academy"] {
        let uid = env.kubectl_ok(&[
            "get",
            "school",
            school,
            "-n",
            &ns,
            "-o",
            "jsonpath={.metadata.uid}",
        ]);
        let job = jobs["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["metadata"]["labels"]["accord.dev/school"] == school)
            .unwrap_or_else(|| panic!("no Job for {school}: {jobs}"));
        let owner = &job["metadata"]["ownerReferences"][0];
        assert_eq!(owner["kind"], "School");
        assert_eq!(owner["uid"], uid.as_str());
        assert_eq!(owner["controller"], true);
        let pod = &job["spec"]["template"]["spec"];
        let container = &pod["containers"][0];
        assert_eq!(container["command"], serde_json::json!(["accord"]));
        assert_eq!(container["args"][0], "extract");
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
        assert_eq!(
            pod["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
        assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
        assert_eq!(
            container["securityContext"]["allowPrivilegeEscalation"],
            false
        );
        assert_eq!(
            container["securityContext"]["capabilities"]["drop"],
            serde_json::json!(["ALL"])
        );
        let reported = env.kubectl_ok(&[
            "get", "school", school, "-n", &ns, "-o",
            "jsonpath={.status.extractionJob.name} {.status.extractionJob.phase} {.status.extractionJob.finishTime}",
        ]);
        let cells: Vec<&str> = reported.split(' ').collect();
        assert_eq!(
            cells[0],
            job["metadata"]["name"].as_str().unwrap(),
            "{reported}"
        );
        assert_eq!(cells[1], "Succeeded", "{reported}");
        assert!(!cells[2].is_empty(), "{reported}");
    }

    // What the Jobs read is delivered: the ledger (through status) and the partner agree.
    let held = || -> usize {
        let hub = trust.partners.holdings("homework-hub");
        ["ashby-primary", "brook-primary", "carlton-academy"]
            .iter()
            .map(|s| {
                hub.people(&format!("{ns}/homework-hub"), &format!("{ns}/{s}"))
                    .len()
            })
            .sum()
    };
    let shared = || -> usize {
        env.kubectl_ok(&[
            "get",
            "dsa",
            "homework-hub",
            "-n",
            &ns,
            "-o",
            "jsonpath={.status.peopleShared}",
        ])
        .parse()
        .unwrap_or(0)
    };
    wait_for(
        Duration::from_secs(60),
        "the Jobs' reads to be delivered",
        || held() > 0 && shared() == held(),
    );
    wait_ready(env, &ns, "dsa/homework-hub");

    // A read that fails shows in the School's status with the Job's reason, and is tried
    // again after a backoff.
    env.kubectl_ok(&[
        "patch", "school", "ashby-primary", "-n", &ns, "--type", "merge", "-p",
        r#"{"metadata":{"annotations":{"accord.dev/refresh-requested-at":"2026-12-01T09:00:00Z"}},"spec":{"mis":{"oneRosterCsv":{"path":"../mis/not-there"}}}}"#,
    ]);
    let job_of = |field: &str| {
        env.kubectl_ok(&[
            "get",
            "school",
            "ashby-primary",
            "-n",
            &ns,
            "-o",
            &format!("jsonpath={{.status.extractionJob.{field}}}"),
        ])
    };
    wait_for(Duration::from_secs(60), "the failed Job in status", || {
        job_of("phase") == "Failed"
    });
    assert_eq!(job_of("reason"), "BackoffLimitExceeded");
    assert_eq!(job_of("attempt"), "1");
    assert!(!job_of("nextAttemptAt").is_empty());
    let ready = env.kubectl_ok(&[
        "get",
        "school",
        "ashby-primary",
        "-n",
        &ns,
        "-o",
        r#"jsonpath={.status.conditions[?(@.type=="Ready")].reason}"#,
    ]);
    assert_eq!(ready, "ExtractionFailed");
    wait_for(Duration::from_secs(30), "the Stalled event", || {
        events(env, &ns, "School", "ashby-primary", "ExtractionFailed")
            .iter()
            .any(|e| message_of(e).contains("Stalled=True"))
    });
    wait_for(Duration::from_secs(60), "the second try", || {
        job_of("attempt") == "2" && job_of("phase") == "Failed"
    });

    // Fixed, the read is tried at once and succeeds.
    env.kubectl_ok(&[
        "patch",
        "school",
        "ashby-primary",
        "-n",
        &ns,
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"mis":{"oneRosterCsv":{"path":"../mis/ashby-primary"}}}}"#,
    ]);
    wait_for(Duration::from_secs(60), "the fixed read", || {
        job_of("phase") == "Succeeded" && job_of("attempt") == "1"
    });
    wait_ready(env, &ns, "school/ashby-primary");
}

#[test]
fn a_rotated_partner_token_takes_effect_without_waiting_for_the_next_pass() {
    let env = env();
    let (trust, ns, kubeconfig) = deployed_trust(env, "rotate");
    let operator = Operator::start(
        env,
        &kubeconfig,
        &ns,
        "replica-a",
        &trust.state(),
        &trust.path().join("schools"),
        &trust.partners,
    );
    wait_ready(env, &ns, "dsa/maths-circle");
    let file = trust
        .partners
        .kit("maths-circle")
        .pull_token
        .clone()
        .unwrap();
    let old = std::fs::read_to_string(file).unwrap().trim().to_owned();
    let listing = "/partner/v1/agreements";
    wait_for(
        Duration::from_secs(30),
        "the partner's token to be accepted",
        || operator.portal(listing, Some(&old)).0 == 200,
    );

    // The Trust rotates the partner's token in its Secret; the next periodic pass is
    // minutes away, so only the watch on Secrets can bring the new one in this soon.
    let rotated = env.kubectl_ok(&[
        "create",
        "secret",
        "generic",
        "maths-circle-pull",
        "-n",
        &ns,
        "--from-literal=token=rotated-pull-token-2026",
        "--dry-run=client",
        "-o",
        "yaml",
    ]);
    let applied = env.kubectl_stdin(&["apply", "-f", "-"], &rotated);
    assert!(
        applied.status.success(),
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );
    wait_for(
        Duration::from_secs(25),
        "the rotated token to be accepted",
        || operator.portal(listing, Some("rotated-pull-token-2026")).0 == 200,
    );
    assert_eq!(operator.portal(listing, Some(&old)).0, 401);
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
        Operator::start_with(
            env,
            kubeconfig,
            namespace,
            identity,
            state,
            mis_root,
            partners,
            &[],
        )
    }

    /// [`Operator::start`] with more arguments.
    #[allow(clippy::too_many_arguments)]
    fn start_with(
        env: &KubeEnv,
        kubeconfig: &Path,
        namespace: &str,
        identity: &str,
        state: &Path,
        mis_root: &Path,
        partners: &Partners,
        extra: &[&str],
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
            .args(extra)
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

    // Extraction runs in Jobs by default: the Role lets the operator manage exactly those,
    // and the state they share is a claim both can mount.
    let args = &pod["containers"][0]["args"];
    assert!(
        args.as_array()
            .unwrap()
            .iter()
            .any(|a| a == "--extraction=jobs"),
        "{args}"
    );
    let role = documents.iter().find(|d| d["kind"] == "Role").unwrap();
    let jobs = role["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["apiGroups"] == serde_json::json!(["batch"]))
        .expect("the Role grants Jobs");
    assert_eq!(jobs["resources"], serde_json::json!(["jobs"]));
    assert_eq!(
        jobs["verbs"],
        serde_json::json!(["create", "get", "list", "watch", "delete"])
    );
    let claim = documents
        .iter()
        .find(|d| d["kind"] == "PersistentVolumeClaim")
        .expect("a claim for the shared state");
    assert_eq!(
        claim["spec"]["accessModes"],
        serde_json::json!(["ReadWriteMany"])
    );
    assert!(
        args.as_array().unwrap().iter().any(|a| a
            == &serde_json::json!(format!(
                "--job-state-claim={}",
                claim["metadata"]["name"].as_str().unwrap()
            ))),
        "{args}"
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
