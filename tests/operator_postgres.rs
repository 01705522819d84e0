//! `accord operator` with its state in PostgreSQL: the chart's `postgresql` values, and
//! two replicas sharing one database (see `postgres_env` and `kube_env`).

mod common;
mod kube_env;
mod postgres_env;

use std::process::{Command, Output};

use common::examples;
use kube_env::trust;

const RELEASE: &str = "accord";

/// `helm ARGS` with its caches in the temporary folder.
fn helm(args: &[&str]) -> Output {
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
}

/// The chart rendered with `--set` values; fails the test when it does not render.
fn render(values: &[&str]) -> Vec<serde_json::Value> {
    let chart = examples().parent().unwrap().join("charts/accord");
    let mut args = vec!["template", RELEASE, chart.to_str().unwrap()];
    for value in values {
        args.extend(["--set", value]);
    }
    let rendered = helm(&args);
    assert!(
        rendered.status.success(),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    serde_yaml::Deserializer::from_slice(&rendered.stdout)
        .filter_map(|d| serde::Deserialize::deserialize(d).ok())
        .filter(|d: &serde_json::Value| d.is_object())
        .collect()
}

/// The operator container's environment in a rendered chart.
fn operator_env(documents: &[serde_json::Value]) -> Vec<serde_json::Value> {
    let deployment = documents
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("a Deployment");
    deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn the_chart_gives_the_operator_its_database_url_from_a_secret() {
    let documents = render(&[
        "postgresql.enabled=true",
        "postgresql.urlSecret=accord-database",
        "masterKeySecret=accord-master-key",
        "replicas=2",
    ]);
    let env = operator_env(&documents);
    let url = env
        .iter()
        .find(|e| e["name"] == "ACCORD_DATABASE_URL")
        .expect("ACCORD_DATABASE_URL in the operator's environment");

    assert_eq!(
        url["valueFrom"]["secretKeyRef"],
        serde_json::json!({ "name": "accord-database", "key": "url" })
    );
    assert!(
        url.get("value").is_none(),
        "the URL is never in the pod spec"
    );

    // Extraction Jobs are told the same Secret, by name, to take the URL from.
    let deployment = documents
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("a Deployment");
    let args = deployment["spec"]["template"]["spec"]["containers"][0]["args"].clone();
    assert!(
        args.as_array()
            .into_iter()
            .flatten()
            .any(|a| a == "--job-database-secret=accord-database/url"),
        "{args}"
    );

    // Without PostgreSQL there is no URL, and the state is SQLite in the volume.
    let sqlite = operator_env(&render(&[]));
    assert!(sqlite.iter().all(|e| e["name"] != "ACCORD_DATABASE_URL"));
}

#[test]
fn the_chart_refuses_postgresql_without_its_secret_or_a_shared_master_key() {
    let chart = examples().parent().unwrap().join("charts/accord");
    let chart = chart.to_str().unwrap();

    let no_secret = helm(&[
        "template",
        RELEASE,
        chart,
        "--set",
        "postgresql.enabled=true",
    ]);
    assert!(!no_secret.status.success());
    assert!(String::from_utf8_lossy(&no_secret.stderr).contains("urlSecret"));

    let no_key = helm(&[
        "template",
        RELEASE,
        chart,
        "--set",
        "postgresql.enabled=true",
        "--set",
        "postgresql.urlSecret=accord-database",
    ]);
    assert!(!no_key.status.success());
    assert!(String::from_utf8_lossy(&no_key.stderr).contains("masterKeySecret"));
}

/// Two replicas, each with a state folder of its own, share one PostgreSQL database: the
/// second takes over from the first, killed mid-delivery, and carries its work on.
#[test]
fn a_second_replica_on_the_same_database_takes_over_when_the_leader_is_killed() {
    let env = kube_env::env();
    let database = postgres_env::database("takeover");
    let (trust, ns, kubeconfig) = trust::deployed_trust(env, "pg-takeover");

    // The master key both replicas mount, as the chart does from a Secret.
    let key = trust.dir.path().join("shared-master.key");
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).unwrap();
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    std::fs::write(&key, encoded).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();

    let replica = |identity: &str| cluster::Replica {
        env,
        kubeconfig: &kubeconfig,
        namespace: &ns,
        identity: identity.to_owned(),
        state: trust.dir.path().join(format!("state-{identity}")),
        mis_root: trust.path().join("schools"),
        database_url: &database.url,
        master_key: &key,
        partners: &trust.partners,
    };
    let mut first = replica("replica-a").start();
    trust::wait_holder(env, &ns, "replica-a");
    let second = replica("replica-b").start();

    // Kill the leader while it works through its first pass.
    trust::wait_for(
        std::time::Duration::from_secs(120),
        "the leader to start delivering",
        || trust.partners.holdings("homework-hub").record_count() > 0,
    );
    first.kill();

    trust::wait_holder(env, &ns, "replica-b");
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

    // The ledger (through status) and the partner agree on who was shared, and the chain
    // the two replicas wrote into one database is whole.
    for agreement in ["homework-hub", "reading-quest"] {
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
        let holdings = trust.partners.holdings(agreement);
        let held: usize = ["ashby-primary", "brook-primary", "carlton-academy"]
            .iter()
            .map(|s| {
                holdings
                    .people(&format!("{ns}/{agreement}"), &format!("{ns}/{s}"))
                    .len()
            })
            .sum();
        assert!(people > 0, "{agreement}: nobody shared");
        assert_eq!(people, held, "{agreement}: ledger and partner disagree");
    }
    let elsewhere = tempfile::tempdir().unwrap();
    let verify = Command::new(env!("CARGO_BIN_EXE_accord"))
        .args(["audit", "verify", "--state"])
        .arg(elsewhere.path())
        .args(["--database-url", &database.url])
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(!trust.dir.path().join("state-replica-b/state.db").exists());
}

/// Operator processes for the takeover test, each on the shared PostgreSQL state; the
/// Trust they serve is deployed by [`kube_env::trust`].
mod cluster {
    use super::common::Partners;
    use super::kube_env::KubeEnv;
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};

    /// One operator replica to start.
    pub struct Replica<'a> {
        pub env: &'a KubeEnv,
        pub kubeconfig: &'a Path,
        pub namespace: &'a str,
        pub identity: String,
        pub state: PathBuf,
        pub mis_root: PathBuf,
        pub database_url: &'a str,
        pub master_key: &'a Path,
        pub partners: &'a Partners,
    }

    /// A running replica, killed on drop.
    pub struct Running {
        child: Option<Child>,
        log: PathBuf,
    }

    impl Replica<'_> {
        pub fn start(&self) -> Running {
            let dir = self.env.dir.path();
            let work = dir.join(format!("work-{}-{}", self.namespace, self.identity));
            let log = dir.join(format!("operator-{}-{}.log", self.namespace, self.identity));
            let port = || {
                std::net::TcpListener::bind("127.0.0.1:0")
                    .unwrap()
                    .local_addr()
                    .unwrap()
                    .to_string()
            };
            let child = Command::new(env!("CARGO_BIN_EXE_accord"))
                .args(["operator", "--namespace", self.namespace])
                .args(["--identity", &self.identity, "--lease-seconds", "4"])
                .arg("--state")
                .arg(&self.state)
                .arg("--work")
                .arg(&work)
                .args(["--probes", &port(), "--listen", &port()])
                .arg("--mis-root")
                .arg(&self.mis_root)
                .arg("--master-key-file")
                .arg(self.master_key)
                .args(self.partners.resolve_args())
                .env("ACCORD_DATABASE_URL", self.database_url)
                .env("KUBECONFIG", self.kubeconfig)
                .env("ACCORD_LOG", "info")
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(&log).unwrap())
                .stderr(std::fs::File::create(log.with_extension("err")).unwrap())
                .spawn()
                .unwrap();
            Running {
                child: Some(child),
                log,
            }
        }
    }

    impl Running {
        /// SIGKILL: no chance to give up the Lease or finish the pass.
        pub fn kill(&mut self) {
            if let Some(mut child) = self.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }

        pub fn log_tail(&self) -> String {
            let mut text = std::fs::read_to_string(&self.log).unwrap_or_default();
            text.push_str(
                &std::fs::read_to_string(self.log.with_extension("err")).unwrap_or_default(),
            );
            let lines: Vec<&str> = text.lines().rev().take(40).collect();
            lines.into_iter().rev().collect::<Vec<_>>().join("\n")
        }
    }

    impl Drop for Running {
        fn drop(&mut self) {
            if std::thread::panicking() {
                eprintln!("operator log:\n{}", self.log_tail());
            }
            self.kill();
        }
    }
}
