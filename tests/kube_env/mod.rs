//! A real kube-apiserver and etcd on loopback for the operator tests, started the way
//! controller-runtime's envtest starts them: generated certificates, a static admin
//! token, a service-account signing key, RBAC authorisation, and a kubeconfig for the real
//! `kubectl`. One environment serves every test in the binary; each test gets its own
//! namespace.
//!
//! The binaries come from `tests/setup/kube.sh`, which builds them from the Go modules in
//! `tests/kube/`. A test finds them through `ACCORD_KUBE_BIN` or the folder that script
//! recorded in `~/.cache/accord/kube/current`.

#![allow(dead_code)]

pub mod node;
pub mod trust;

use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The shared apiserver, started on first use.
pub fn env() -> &'static KubeEnv {
    static ENV: OnceLock<KubeEnv> = OnceLock::new();
    ENV.get_or_init(KubeEnv::start)
}

/// A running etcd and kube-apiserver, and the files a client needs.
pub struct KubeEnv {
    /// The folder with the binaries.
    pub bin: PathBuf,
    /// Certificates, keys, tokens, kubeconfigs and etcd's data.
    pub dir: tempfile::TempDir,
    /// `https://127.0.0.1:PORT`.
    pub server: String,
    /// A kubeconfig for the cluster administrator (group `system:masters`).
    pub admin: PathBuf,
    processes: Vec<Child>,
}

impl KubeEnv {
    fn start() -> KubeEnv {
        let bin = binaries();
        let dir = tempfile::tempdir().unwrap();
        let files = dir.path();

        // Serving certificate, service-account key pair and the admin's token.
        let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let cert = accord::tls::issue(&["localhost".to_owned()], &[loopback]).unwrap();
        cert.write(&files.join("tls")).unwrap();
        let sa = rcgen::KeyPair::generate().unwrap();
        std::fs::write(files.join("sa.key"), sa.serialize_pem()).unwrap();
        std::fs::write(files.join("sa.pub"), sa.public_key_pem()).unwrap();
        let token = format!("admin-{}", random_hex());
        std::fs::write(
            files.join("tokens.csv"),
            format!("{token},admin,admin-uid,system:masters\n"),
        )
        .unwrap();

        let etcd_port = free_port();
        let peer_port = free_port();
        let etcd_url = format!("http://127.0.0.1:{etcd_port}");
        let etcd = guarded(
            &bin.join("etcd"),
            &[
                "--data-dir",
                &files.join("etcd").display().to_string(),
                "--listen-client-urls",
                &etcd_url,
                "--advertise-client-urls",
                &etcd_url,
                "--listen-peer-urls",
                &format!("http://127.0.0.1:{peer_port}"),
                "--initial-advertise-peer-urls",
                &format!("http://127.0.0.1:{peer_port}"),
                "--initial-cluster",
                &format!("default=http://127.0.0.1:{peer_port}"),
                "--unsafe-no-fsync",
                "--log-level",
                "error",
            ],
            &files.join("etcd.log"),
        );

        let port = free_port();
        let tls = files.join("tls");
        let path = |name: &str| files.join(name).display().to_string();
        let apiserver = guarded(
            &bin.join("kube-apiserver"),
            &[
                "--etcd-servers",
                &etcd_url,
                "--bind-address",
                "127.0.0.1",
                "--advertise-address",
                "127.0.0.1",
                "--secure-port",
                &port.to_string(),
                "--cert-dir",
                &path("certs"),
                "--tls-cert-file",
                &tls.join("tls.crt").display().to_string(),
                "--tls-private-key-file",
                &tls.join("tls.key").display().to_string(),
                "--token-auth-file",
                &path("tokens.csv"),
                "--service-account-key-file",
                &path("sa.pub"),
                "--service-account-signing-key-file",
                &path("sa.key"),
                "--service-account-issuer",
                "https://kubernetes.default.svc.cluster.local",
                "--api-audiences",
                "https://kubernetes.default.svc.cluster.local",
                "--authorization-mode",
                "RBAC",
                "--service-cluster-ip-range",
                "10.0.0.0/24",
                "--disable-admission-plugins",
                "ServiceAccount",
                "--enable-priority-and-fairness=false",
                "--v",
                "0",
            ],
            &files.join("kube-apiserver.log"),
        );

        let server = format!("https://127.0.0.1:{port}");
        let admin = files.join("admin.kubeconfig");
        write_kubeconfig(&admin, &server, &cert.ca_pem, &token);
        let env = KubeEnv {
            bin,
            server,
            admin,
            processes: vec![etcd, apiserver],
            dir,
        };
        env.wait_ready();
        env
    }

    // Waits for /readyz, which turns 200 once the apiserver's start-up hooks have run
    // (including the bootstrap RBAC roles).
    fn wait_ready(&self) {
        let started = Instant::now();
        loop {
            let output = self.kubectl_as(&self.admin, &["get", "--raw", "/readyz"]);
            if output.status.success() {
                eprintln!("kube-apiserver ready in {:?}", started.elapsed());
                return;
            }
            if started.elapsed() > Duration::from_secs(120) {
                let log = std::fs::read_to_string(self.dir.path().join("kube-apiserver.log"))
                    .unwrap_or_default();
                let tail: String = log.lines().rev().take(30).collect::<Vec<_>>().join("\n");
                panic!("kube-apiserver not ready after 120s; its log ends:\n{tail}");
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// The real `kubectl` as the administrator.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_as(&self.admin, args)
    }

    /// The real `kubectl` with another kubeconfig.
    pub fn kubectl_as(&self, kubeconfig: &Path, args: &[&str]) -> Output {
        Command::new(self.bin.join("kubectl"))
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// `kubectl` that must succeed; returns its stdout.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let output = self.kubectl(args);
        assert!(
            output.status.success(),
            "kubectl {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// `kubectl` as the administrator, with `input` on its standard input.
    pub fn kubectl_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child = Command::new(self.bin.join("kubectl"))
            .arg("--kubeconfig")
            .arg(&self.admin)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// A namespace of the test's own, `prefix-N`.
    pub fn namespace(&self, prefix: &str) -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!("{prefix}-{}", NEXT.fetch_add(1, Ordering::Relaxed));
        self.kubectl_ok(&["create", "namespace", &name]);
        name
    }

    /// A kubeconfig that authenticates as `serviceaccount` in `namespace`, with a token
    /// from the TokenRequest API.
    pub fn service_account_kubeconfig(&self, namespace: &str, serviceaccount: &str) -> PathBuf {
        let token = self.kubectl_ok(&[
            "create",
            "token",
            serviceaccount,
            "-n",
            namespace,
            "--duration",
            "2h",
        ]);
        let path = self
            .dir
            .path()
            .join(format!("{namespace}-{serviceaccount}.kubeconfig"));
        let ca = std::fs::read_to_string(self.dir.path().join("tls/ca.crt")).unwrap();
        write_kubeconfig(&path, &self.server, &ca, token.trim());
        path
    }

    /// The real `helm`, with its caches inside the environment's folder.
    pub fn helm(&self, args: &[&str]) -> Output {
        Command::new(self.bin.join("helm"))
            .args(args)
            .env("HELM_CACHE_HOME", self.dir.path().join("helm/cache"))
            .env("HELM_CONFIG_HOME", self.dir.path().join("helm/config"))
            .env("HELM_DATA_HOME", self.dir.path().join("helm/data"))
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }
}

impl Drop for KubeEnv {
    fn drop(&mut self) {
        // TERM, not KILL: the guarding shell then stops the program it started.
        for child in self.processes.iter_mut().rev() {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let _ = child.wait();
        }
    }
}

/// The folder holding the binaries `tests/setup/kube.sh` built.
pub fn binaries() -> PathBuf {
    std::env::var_os("ACCORD_KUBE_BIN")
        .map(PathBuf::from)
        .or_else(|| {
            let home = std::env::var_os("HOME")?;
            let current = Path::new(&home).join(".cache/accord/kube/current");
            Some(PathBuf::from(std::fs::read_to_string(current).ok()?.trim()))
        })
        .filter(|dir| dir.join("kube-apiserver").is_file())
        .unwrap_or_else(|| {
            panic!("kube-apiserver, etcd and kubectl are not built: run bash tests/setup/kube.sh")
        })
}

// Starts `program` under a small shell that stops it when this test process ends (SIGTERM,
// then SIGKILL after ten seconds), so a test binary that exits without dropping the shared
// environment leaves nothing behind.
fn guarded(program: &Path, args: &[&str], log: &Path) -> Child {
    let log = std::fs::File::create(log).unwrap();
    let parent = std::process::id().to_string();
    Command::new("bash")
        .arg("-c")
        .arg(
            r#"parent=$1; shift; "$@" & child=$!
stop() {
  kill $child 2>/dev/null
  # An apiserver whose etcd has gone can wait on it for minutes: give it ten seconds.
  for _ in $(seq 40); do kill -0 $child 2>/dev/null || break; sleep 0.25; done
  kill -KILL $child 2>/dev/null; wait $child
}
trap stop EXIT TERM
while kill -0 "$parent" 2>/dev/null && kill -0 $child 2>/dev/null; do sleep 0.5; done"#,
        )
        .arg("guard")
        .arg(parent)
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

fn write_kubeconfig(path: &Path, server: &str, ca_pem: &str, token: &str) {
    use base64::Engine;
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {server}\n    \
         certificate-authority-data: {ca}\nusers:\n- name: user\n  user:\n    token: {token}\n\
         contexts:\n- name: test\n  context:\n    cluster: test\n    user: user\n\
         current-context: test\n"
    );
    std::fs::write(path, text).unwrap();
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
