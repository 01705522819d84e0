//! Shared by the end-to-end tests of `accord run`: a copy of the example Trust that a test
//! can change and re-sign, and a OneRoster REST server on loopback.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use accord::cache::{Cache, KeySources, MasterKey};
use accord::catalogue::Area;
use accord::mis::oneroster_csv::read_bundle;
use accord::mis::rest::{ClientCredentials, ServerOptions, router_with};
use accord::mis::{FieldSet, ReadOptions};
use accord::signing::{ApproverKey, sign_agreements_in_text};
use accord::state::State;
use serde_json::Value;

/// A copy of the example Trust with an approver key of the test's own, so it can change
/// and re-sign agreements.
pub struct Trust {
    pub dir: tempfile::TempDir,
    pub key: ApproverKey,
    /// The Trust's partners, serving on loopback from the start.
    pub partners: Partners,
}

impl Trust {
    pub fn new() -> Trust {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&examples(), &dir.path().join("trust"));
        let keyring = dir.path().join("trust/keyring");
        std::fs::remove_dir_all(&keyring).unwrap();
        std::fs::create_dir_all(&keyring).unwrap();
        let (private, public) = accord::signing::generate_key_pair().unwrap();
        std::fs::write(dir.path().join("test-dpo.key"), private).unwrap();
        std::fs::write(keyring.join("test-dpo.pub"), public).unwrap();
        let key = ApproverKey::load(&dir.path().join("test-dpo.key")).unwrap();
        let agreements = dir.path().join("trust/agreements");
        for entry in std::fs::read_dir(&agreements).unwrap() {
            resign(&key, &entry.unwrap().path());
        }
        let partners = Partners::start(dir.path(), &dir.path().join("trust"));
        Trust { dir, key, partners }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("trust")
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn resign(&self, file: &Path) {
        resign(&self.key, file);
    }

    pub fn edit(&self, file: &str, from: &str, to: &str) {
        let path = self.path().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{from:?} not in {file}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
        if file.starts_with("agreements/") {
            self.resign(&path);
        }
    }

    /// `accord run --once`, reaching the partners' receivers on loopback.
    pub fn run(&self) -> Output {
        let secrets = self.dir.path().join("secrets");
        let mut args = vec![
            "run".to_owned(),
            self.path().display().to_string(),
            "--once".to_owned(),
            "--state".to_owned(),
            self.state().display().to_string(),
            "--secrets".to_owned(),
            secrets.display().to_string(),
        ];
        args.extend(self.partners.resolve_args());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        accord(&args)
    }

    pub fn statuses(&self, kind: &str) -> Vec<Value> {
        let output = accord(&[
            "status",
            kind,
            "-o",
            "yaml",
            "--state",
            self.state().to_str().unwrap(),
        ]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8(output.stdout).unwrap();
        text.split("---\n")
            .filter(|d| !d.trim().is_empty())
            .map(|d| serde_yaml::from_str(d).unwrap())
            .collect()
    }

    pub fn school(&self, name: &str) -> Value {
        self.statuses("school")
            .into_iter()
            .find(|s| s["metadata"]["name"] == name)
            .unwrap()
    }

    /// The records of one area as the cache holds them, decrypted with the state's key.
    pub fn cached(&self, school: &str, area: Area) -> Option<Vec<Value>> {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let state = State::open(&self.state()).await.unwrap();
            let master = MasterKey::load(&KeySources::default(), &self.state()).unwrap();
            let cache = Cache::new(state, master).await.unwrap();
            let bytes = cache
                .get(
                    &format!("riverside-trust/{school}"),
                    area,
                    std::time::SystemTime::now(),
                )
                .await
                .unwrap()?;
            Some(serde_json::from_slice(&bytes).unwrap())
        })
    }
}

fn resign(key: &ApproverKey, file: &Path) {
    let text = std::fs::read_to_string(file).unwrap();
    let (signed, _) = sign_agreements_in_text(file, &text, key).unwrap();
    std::fs::write(file, signed).unwrap();
}

pub fn accord(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_accord"))
        .args(args)
        .output()
        .unwrap()
}

pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("examples")
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

pub fn field_names(records: &[Value]) -> std::collections::BTreeSet<String> {
    records
        .iter()
        .flat_map(|r| r.as_object().unwrap().keys().cloned())
        .collect()
}

pub fn roll(school: &str) -> accord::mis::Extract {
    read_bundle(
        &examples().join("mis").join(school),
        &FieldSet::everything(),
        &ReadOptions::default(),
    )
    .unwrap()
}

pub fn append(trust: &Trust, file: &str, row: &[u8]) {
    use std::io::Write;
    let path = trust.path().join("mis/ashby-primary").join(file);
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap()
        .write_all(row)
        .unwrap();
}

/// Starts a OneRoster REST server on loopback for the test's lifetime; returns its address.
pub fn serve(runtime: &tokio::runtime::Runtime, bundle: &Path, options: ServerOptions) -> String {
    let credentials = ClientCredentials {
        client_id: "accord".into(),
        client_secret: "s3cret-for-tests".into(),
    };
    let router = router_with(bundle, credentials, options).unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let address = listener.local_addr().unwrap().to_string();
    runtime.spawn(async move { axum::serve(listener, router).await });
    address
}

pub fn point_at_rest(trust: &Trust, school: &str, address: &str, timeout: &str) {
    let secrets = trust.dir.path().join("secrets/mis");
    std::fs::create_dir_all(&secrets).unwrap();
    std::fs::write(secrets.join("id"), "accord").unwrap();
    std::fs::write(secrets.join("secret"), "s3cret-for-tests").unwrap();
    let rest = format!(
        "oneRosterRest:\n      baseUrl: http://{address}/ims/oneroster/v1p1\n      version: \"1.1\"\n      tokenUrl: http://{address}/token\n      clientIdRef: {{name: mis, key: id}}\n      clientSecretRef: {{name: mis, key: secret}}\n      timeout: {timeout}"
    );
    let file = format!("schools/{school}.yaml");
    let text = std::fs::read_to_string(trust.path().join(&file)).unwrap();
    let start = text.find("oneRosterCsv:").unwrap();
    let end = text[start..].find("  refresh:").unwrap() + start;
    std::fs::write(
        trust.path().join(&file),
        format!("{}{rest}\n{}", &text[..start], &text[end..]),
    )
    .unwrap();
}

/// The example Trust's partners, each with its own CA and HTTPS receiver on loopback, as
/// `accord demo` runs them.
pub struct Partners {
    pub runtime: tokio::runtime::Runtime,
    pub kits: Vec<accord::demo::PartnerKit>,
    running: Option<accord::demo::RunningPartners>,
    resolve: Vec<(String, std::net::SocketAddr)>,
}

impl Partners {
    /// Provisions the Trust's partners under `dir` (certificates; secrets in
    /// `dir/secrets`) and starts every receiver.
    pub fn start(dir: &Path, trust: &Path) -> Partners {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let resources = match accord::controller::load(trust, None) {
            accord::controller::Loaded::Valid(declaration) => declaration.resources,
            accord::controller::Loaded::Invalid { errors, .. } => panic!("{errors:?}"),
        };
        let kits = accord::demo::provision(&resources, &dir.join("partners"), &dir.join("secrets"))
            .unwrap();
        let mut partners = Partners {
            runtime,
            kits,
            running: None,
            resolve: Vec::new(),
        };
        partners.up();
        partners
    }

    /// (Re)starts every receiver on the same stores, on the same ports when restarting.
    pub fn up(&mut self) {
        assert!(self.running.is_none(), "receivers already running");
        let kits: Vec<accord::demo::PartnerKit> = self.kits.iter().map(clone_kit).collect();
        let running = self
            .runtime
            .block_on(accord::demo::serve_partners(kits))
            .unwrap();
        self.resolve = running.resolve();
        self.running = Some(running);
    }

    /// Stops every receiver: the partners are down. Their addresses stay in `resolve`, so
    /// deliveries meet a refused connection.
    pub fn down(&mut self) {
        if let Some(running) = self.running.take() {
            self.runtime.block_on(running.stop());
        }
    }

    /// `--resolve` arguments for `accord run`.
    pub fn resolve_args(&self) -> Vec<String> {
        self.resolve
            .iter()
            .flat_map(|(host, address)| ["--resolve".to_owned(), format!("{host}={address}")])
            .collect()
    }

    /// What a partner holds, replayed from its store.
    pub fn holdings(&self, partner: &str) -> accord::partner::Holdings {
        accord::partner::Holdings::load(&self.kit(partner).store()).unwrap()
    }

    pub fn kit(&self, partner: &str) -> &accord::demo::PartnerKit {
        self.kits
            .iter()
            .find(|k| k.partner.name == partner)
            .unwrap_or_else(|| panic!("no partner {partner}"))
    }
}

fn clone_kit(kit: &accord::demo::PartnerKit) -> accord::demo::PartnerKit {
    accord::demo::PartnerKit {
        partner: kit.partner.clone(),
        host: kit.host.clone(),
        dir: kit.dir.clone(),
        pull_token: kit.pull_token.clone(),
    }
}

impl Trust {
    /// Asks for a read of the school's MIS on the next pass.
    pub fn request_refresh(&self, school: &str) {
        let file = self.path().join(format!("schools/{school}.yaml"));
        let text = std::fs::read_to_string(&file).unwrap();
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let annotated = if text.contains("accord.dev/refresh-requested-at") {
            let start = text.find("accord.dev/refresh-requested-at").unwrap();
            let end = start + text[start..].find('\n').unwrap();
            format!(
                "{}accord.dev/refresh-requested-at: \"{stamp}\"{}",
                &text[..start],
                &text[end..]
            )
        } else {
            text.replacen(
                "  labels:\n",
                &format!(
                    "  annotations:\n    accord.dev/refresh-requested-at: \"{stamp}\"\n  labels:\n"
                ),
                1,
            )
        };
        std::fs::write(file, annotated).unwrap();
    }
}

/// The pupils on a school's roll in the example MIS.
pub fn pupils(school: &str) -> Vec<String> {
    roll(school)
        .records(Area::Students)
        .iter()
        .map(|r| r.sourced_id.clone())
        .collect()
}
