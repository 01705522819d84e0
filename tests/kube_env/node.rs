//! A stand-in for what the test cluster lacks to run a Job: a kubelet and the job
//! controller. The cluster is only an apiserver and etcd, so this reads each extraction
//! Job the operator created from the apiserver, runs exactly its pod template's command,
//! arguments and environment as a local process (the command `accord` is this build's
//! binary, as it would be the image's), with its volumes made real folders: a Secret
//! volume holds the keys it names, read from the apiserver; a PersistentVolumeClaim is the
//! local folder the test says the claim is. It then writes the Job's status through the
//! status subresource as the job controller does: `startTime` and one active pod, then
//! `succeeded` with `SuccessCriteriaMet` and `Complete`, or `failed` with `FailureTarget`
//! and `Failed`.
//!
//! What this does not stand for: pods, images, scheduling, resource limits, the security
//! context (the process runs as the test's user), and the job controller's own retries
//! (the operator's Jobs allow none).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

use super::KubeEnv;

/// The Jobs the node runs: the operator's extraction Jobs.
const SELECTOR: &str = "app.kubernetes.io/component=extraction";

/// A running node; stops when dropped.
pub struct Node {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// Every Job's output, one file per Job, for a failing test to show.
    pub logs: PathBuf,
}

impl Node {
    /// Runs the extraction Jobs of `namespace`, with each named claim as a local folder.
    pub fn start(env: &'static KubeEnv, namespace: &str, claims: &[(&str, &Path)]) -> Node {
        let stop = Arc::new(AtomicBool::new(false));
        let logs = env.dir.path().join(format!("node-{namespace}"));
        std::fs::create_dir_all(&logs).unwrap();
        let kubelet = Kubelet {
            env,
            namespace: namespace.to_owned(),
            claims: claims
                .iter()
                .map(|(name, path)| ((*name).to_owned(), path.to_path_buf()))
                .collect(),
            work: logs.clone(),
        };
        let thread = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut started = BTreeSet::new();
                while !stop.load(Ordering::Relaxed) {
                    for job in kubelet.pending_jobs() {
                        let uid = job["metadata"]["uid"].as_str().unwrap_or("").to_owned();
                        if started.insert(uid) {
                            kubelet.run(&job);
                        }
                    }
                    std::thread::sleep(Duration::from_millis(300));
                }
            })
        };
        Node {
            stop,
            thread: Some(thread),
            logs,
        }
    }

    /// The output of every Job run so far.
    pub fn output(&self) -> String {
        let mut text = String::new();
        for entry in std::fs::read_dir(&self.logs)
            .into_iter()
            .flatten()
            .flatten()
        {
            if entry.path().extension().is_some_and(|e| e == "log") {
                text.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
            }
        }
        text
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct Kubelet {
    env: &'static KubeEnv,
    namespace: String,
    claims: BTreeMap<String, PathBuf>,
    work: PathBuf,
}

impl Kubelet {
    // Jobs not started yet.
    fn pending_jobs(&self) -> Vec<Value> {
        let output = self.env.kubectl(&[
            "get",
            "jobs",
            "-n",
            &self.namespace,
            "-l",
            SELECTOR,
            "-o",
            "json",
        ]);
        if !output.status.success() {
            return Vec::new();
        }
        let list: Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
        list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|job| job["status"]["startTime"].is_null())
            .cloned()
            .collect()
    }

    fn run(&self, job: &Value) {
        let name = job["metadata"]["name"].as_str().unwrap().to_owned();
        let started = now();
        self.patch_status(&name, json!({ "startTime": started, "active": 1 }));

        let pod = &job["spec"]["template"]["spec"];
        let container = &pod["containers"][0];
        let root = self.work.join(&name);
        std::fs::create_dir_all(&root).unwrap();
        self.volumes(pod, container, &root);
        // The container's filesystem is `root`: every absolute path it is given is under it.
        let rewrite = |text: &str| {
            if text.starts_with('/') {
                return format!("{}{text}", root.display());
            }
            match text.split_once('=') {
                Some((flag, value)) if flag.starts_with("--") && value.starts_with('/') => {
                    format!("{flag}={}{value}", root.display())
                }
                _ => text.to_owned(),
            }
        };

        let command: Vec<String> = strings(&container["command"]);
        assert_eq!(
            command.first().map(String::as_str),
            Some("accord"),
            "the node runs only the accord image's command"
        );
        let mut process = Command::new(env!("CARGO_BIN_EXE_accord"));
        process.env_clear();
        process.args(command[1..].iter().map(|a| rewrite(a)));
        process.args(strings(&container["args"]).iter().map(|a| rewrite(a)));
        for variable in container["env"].as_array().into_iter().flatten() {
            let key = variable["name"].as_str().unwrap();
            let value = match variable["value"].as_str() {
                Some(value) => value.to_owned(),
                None => {
                    let reference = &variable["valueFrom"]["secretKeyRef"];
                    let secret = self.secret(reference["name"].as_str().unwrap_or(""));
                    let bytes = secret.get(reference["key"].as_str().unwrap_or(""));
                    String::from_utf8_lossy(bytes.map_or(&[][..], |b| b)).into_owned()
                }
            };
            process.env(key, rewrite(&value));
        }
        let log = std::fs::File::create(self.work.join(format!("{name}.log"))).unwrap();
        let status = process
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .status()
            .unwrap();

        let finished = now();
        let status = if status.success() {
            json!({
                "startTime": started, "active": 0, "succeeded": 1, "completionTime": finished,
                "conditions": [
                    condition("SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods", &finished),
                    condition("Complete", "CompletionsReached", "Reached expected number of succeeded pods", &finished),
                ],
            })
        } else {
            json!({
                "startTime": started, "active": 0, "failed": 1,
                "conditions": [
                    condition("FailureTarget", "BackoffLimitExceeded", "Job has reached the specified backoff limit", &finished),
                    condition("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit", &finished),
                ],
            })
        };
        self.patch_status(&name, status);
    }

    // Each volume mount made real under `root`: a claim as a link to its local folder, a
    // Secret as the files of the keys it names, anything else as an empty folder.
    fn volumes(&self, pod: &Value, container: &Value, root: &Path) {
        let volumes: BTreeMap<&str, &Value> = pod["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| (v["name"].as_str().unwrap(), v))
            .collect();
        for mount in container["volumeMounts"].as_array().into_iter().flatten() {
            let volume = volumes[mount["name"].as_str().unwrap()];
            let path = root.join(mount["mountPath"].as_str().unwrap().trim_start_matches('/'));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            if let Some(claim) = volume["persistentVolumeClaim"]["claimName"].as_str() {
                let local = self
                    .claims
                    .get(claim)
                    .unwrap_or_else(|| panic!("the node has no volume for claim {claim}"));
                std::os::unix::fs::symlink(local, &path).unwrap();
            } else if let Some(secret) = volume["secret"]["secretName"].as_str() {
                std::fs::create_dir_all(&path).unwrap();
                let data = self.secret(secret);
                for item in volume["secret"]["items"].as_array().into_iter().flatten() {
                    let key = item["key"].as_str().unwrap();
                    if let Some(bytes) = data.get(key) {
                        std::fs::write(path.join(item["path"].as_str().unwrap()), bytes).unwrap();
                    }
                }
            } else {
                std::fs::create_dir_all(&path).unwrap();
            }
        }
    }

    fn secret(&self, name: &str) -> BTreeMap<String, Vec<u8>> {
        let output =
            self.env
                .kubectl(&["get", "secret", name, "-n", &self.namespace, "-o", "json"]);
        let secret: Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
        secret["data"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(v.as_str()?)
                    .ok()?;
                Some((k.clone(), bytes))
            })
            .collect()
    }

    fn patch_status(&self, job: &str, status: Value) {
        let patch = json!({ "status": status }).to_string();
        let output = self.env.kubectl(&[
            "patch",
            "job",
            job,
            "-n",
            &self.namespace,
            "--subresource=status",
            "--type=merge",
            "-p",
            &patch,
        ]);
        assert!(
            output.status.success(),
            "the node could not write job {job}'s status: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

fn condition(type_: &str, reason: &str, message: &str, at: &str) -> Value {
    json!({
        "type": type_, "status": "True", "reason": reason, "message": message,
        "lastProbeTime": at, "lastTransitionTime": at,
    })
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

fn now() -> String {
    let now = jiff::Timestamp::now();
    jiff::Timestamp::from_second(now.as_second())
        .unwrap()
        .to_string()
}
