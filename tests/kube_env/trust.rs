//! A Trust deployed in a cluster the way the operator tests need it: the chart's CRDs and
//! RBAC, a namespace of its own, its Secrets and keyring, its resources applied; and the
//! waits the tests use on it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::KubeEnv;
use crate::common::{Trust, examples};

/// The release name the tests install the chart under; the ServiceAccount is
/// `<release>-operator`.
pub const RELEASE: &str = "accord";
pub const SERVICE_ACCOUNT: &str = "accord-operator";

/// The folders of a Trust's repository that hold resources.
pub const KIND_FOLDERS: [&str; 5] = ["schools", "partners", "agreements", "consent", "erasures"];

/// Renders the chart into `namespace` and applies it; returns a kubeconfig with a token
/// of the chart's ServiceAccount.
pub fn install_chart(env: &KubeEnv, namespace: &str) -> PathBuf {
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
pub fn install_crds(env: &KubeEnv) {
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
pub fn load_secrets(env: &KubeEnv, namespace: &str, dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let from = format!("--from-file={}", path.display());
        env.kubectl_ok(&["create", "secret", "generic", &name, &from, "-n", namespace]);
    }
}

/// The keyring folder as the ConfigMap `accord-keyring`.
pub fn load_keyring(env: &KubeEnv, namespace: &str, dir: &Path) {
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
pub fn deployed_trust(env: &KubeEnv, prefix: &str) -> (Trust, String, PathBuf) {
    let (trust, ns) = rehomed_trust(env, prefix);
    let kubeconfig = install_chart(env, &ns);
    load_secrets(env, &ns, &trust.dir.path().join("secrets"));
    load_keyring(env, &ns, &trust.path().join("keyring"));
    apply_folders(env, &trust.path());
    (trust, ns, kubeconfig)
}

/// A copy of the example Trust moved into a namespace of the test's own, re-signed.
pub fn rehomed_trust(env: &KubeEnv, prefix: &str) -> (Trust, String) {
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
pub fn apply_folders(env: &KubeEnv, trust: &Path) {
    let files: Vec<String> = KIND_FOLDERS
        .iter()
        .flat_map(|dir| ["-f".to_owned(), trust.join(dir).display().to_string()])
        .collect();
    let mut args = vec!["apply"];
    args.extend(files.iter().map(String::as_str));
    env.kubectl_ok(&args);
}

pub fn wait_ready(env: &KubeEnv, namespace: &str, object: &str) {
    env.kubectl_ok(&[
        "wait",
        "--for=condition=Ready",
        object,
        "-n",
        namespace,
        "--timeout=240s",
    ]);
}

pub fn holder(env: &KubeEnv, namespace: &str) -> String {
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

pub fn wait_holder(env: &KubeEnv, namespace: &str, identity: &str) {
    wait_for(
        Duration::from_secs(60),
        &format!("{identity} to hold the Lease"),
        || holder(env, namespace) == identity,
    );
}

pub fn wait_for(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}
