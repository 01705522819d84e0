//! The Job that reads one school's MIS: the `accord` image running `accord extract`, with
//! exactly the planned fields, the School's Secrets mounted read-only, the state shared
//! with the operator, and the restricted Pod Security Standard.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, EnvVar, KeyToPath, PersistentVolumeClaimVolumeSource,
    PodSecurityContext, PodSpec, PodTemplateSpec, SeccompProfile, SecretVolumeSource,
    SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;
use kube::{Resource, ResourceExt};
use serde_json::json;

use super::{ATTEMPT, JobSettings, REQUEST, SCHOOL_LABEL, field_list, job_name};
use crate::controller::ReadRequest;
use crate::operator::declaration::refs_of;
use crate::plan::REFRESH_REQUESTED_AT;
use crate::resources::{ObjectKey, School};

/// Where the Job's container finds what it is given.
const STATE_DIR: &str = "/var/lib/accord";
const MIS_DIR: &str = "/var/lib/accord-mis";
const SECRETS_DIR: &str = "/etc/accord/secrets";
const MASTER_KEY_DIR: &str = "/etc/accord/master-key";

/// The Job that reads `request` for `school`, as the `attempt`th try.
pub fn job_for(
    school: &School,
    request: &ReadRequest,
    request_hash: &str,
    attempt: i64,
    settings: &JobSettings,
    now: Timestamp,
) -> Job {
    let key = ObjectKey::of(school);
    let mut volumes = vec![Volume {
        name: "state".to_owned(),
        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
            claim_name: settings.state_claim.clone(),
            read_only: None,
        }),
        ..Volume::default()
    }];
    let mut mounts = vec![mount("state", STATE_DIR, false)];
    if let Some(claim) = &settings.mis_claim {
        volumes.push(Volume {
            name: "mis".to_owned(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim.clone(),
                read_only: Some(true),
            }),
            ..Volume::default()
        });
        mounts.push(mount("mis", MIS_DIR, true));
    }
    let mut args = vec![
        "extract".to_owned(),
        format!("--school={key}"),
        format!("--fields={}", field_list(&request.fields).join(",")),
        format!("--retention-seconds={}", request.retention.as_secs()),
        format!("--secrets={SECRETS_DIR}"),
        format!("--mis-root={MIS_DIR}"),
    ];
    if let Some(secret) = &settings.master_key_secret {
        volumes.push(secret_volume(
            "master-key",
            secret,
            &["master.key".to_owned()],
        ));
        mounts.push(mount("master-key", MASTER_KEY_DIR, true));
        args.push(format!("--master-key-file={MASTER_KEY_DIR}/master.key"));
    }

    // Each Secret the School names, as `<dir>/<name>/<key>`: the layout `accord run` reads.
    let mut secrets: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let spec = serde_json::to_value(&school.spec).unwrap_or_default();
    for (name, key) in refs_of(&spec) {
        secrets.entry(name).or_default().push(key);
    }
    for (index, (name, keys)) in secrets.iter().enumerate() {
        let volume = format!("secret-{index}");
        volumes.push(secret_volume(&volume, name, keys));
        mounts.push(mount(&volume, &format!("{SECRETS_DIR}/{name}"), true));
    }

    let mut env = state_env(settings);
    env.push(EnvVar {
        name: "ACCORD_SCHOOL".to_owned(),
        value: Some(school_json(school)),
        value_from: None,
    });

    let labels: BTreeMap<String, String> = [
        ("app.kubernetes.io/managed-by", "accord"),
        ("app.kubernetes.io/component", "extraction"),
        (SCHOOL_LABEL, key.name.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let annotations = BTreeMap::from([
        (ATTEMPT.to_owned(), attempt.to_string()),
        (REQUEST.to_owned(), request_hash.to_owned()),
    ]);
    let container = Container {
        name: "extract".to_owned(),
        image: Some(settings.image.clone()),
        command: Some(vec!["accord".to_owned()]),
        args: Some(args),
        env: Some(env),
        volume_mounts: Some(mounts),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".to_owned()]),
                add: None,
            }),
            seccomp_profile: Some(runtime_default()),
            ..SecurityContext::default()
        }),
        ..Container::default()
    };
    Job {
        metadata: ObjectMeta {
            name: Some(job_name(&key.name, request_hash, attempt, now)),
            namespace: Some(key.namespace.clone()),
            labels: Some(labels.clone()),
            annotations: Some(annotations),
            owner_references: school.controller_owner_ref(&()).map(|r| vec![r]),
            ..ObjectMeta::default()
        },
        spec: Some(JobSpec {
            // The operator retries with its own backoff, so a failure shows in status.
            backoff_limit: Some(0),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".to_owned()),
                    // The Job reads its MIS, not the apiserver.
                    automount_service_account_token: Some(false),
                    security_context: Some(PodSecurityContext {
                        run_as_non_root: Some(true),
                        run_as_user: Some(65532),
                        run_as_group: Some(65532),
                        fs_group: Some(65532),
                        seccomp_profile: Some(runtime_default()),
                        ..PodSecurityContext::default()
                    }),
                    containers: vec![container],
                    volumes: Some(volumes),
                    ..PodSpec::default()
                }),
            },
            ..JobSpec::default()
        }),
        status: None,
    }
}

/// How the Job reaches the state the operator uses, as environment variables: the state
/// folder today; a database's settings go here too.
/// Where the Job finds the operator's state: the shared folder, and the PostgreSQL URL
/// from its Secret when the state is kept there.
fn state_env(settings: &JobSettings) -> Vec<EnvVar> {
    let mut env = vec![EnvVar {
        name: "ACCORD_STATE".to_owned(),
        value: Some(STATE_DIR.to_owned()),
        value_from: None,
    }];
    if let Some((secret, key)) = &settings.database_secret {
        env.push(EnvVar {
            name: "ACCORD_DATABASE_URL".to_owned(),
            value: None,
            value_from: Some(k8s_openapi::api::core::v1::EnvVarSource {
                secret_key_ref: Some(k8s_openapi::api::core::v1::SecretKeySelector {
                    name: secret.clone(),
                    key: key.clone(),
                    optional: None,
                }),
                ..Default::default()
            }),
        });
    }
    env
}

// The School as the Job needs it: identity, the refresh annotation and the spec. Its
// Secret references are names, never values.
fn school_json(school: &School) -> String {
    let annotations: BTreeMap<&String, &String> = school
        .annotations()
        .iter()
        .filter(|(k, _)| k.as_str() == REFRESH_REQUESTED_AT)
        .collect();
    json!({
        "apiVersion": crate::resources::API_VERSION,
        "kind": "School",
        "metadata": {
            "name": school.name_any(),
            "namespace": school.namespace(),
            "annotations": annotations,
        },
        "spec": school.spec,
    })
    .to_string()
}

fn secret_volume(volume: &str, secret: &str, keys: &[String]) -> Volume {
    Volume {
        name: volume.to_owned(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(secret.to_owned()),
            items: Some(
                keys.iter()
                    .map(|k| KeyToPath {
                        key: k.clone(),
                        path: k.clone(),
                        mode: None,
                    })
                    .collect(),
            ),
            default_mode: Some(0o400),
            optional: None,
        }),
        ..Volume::default()
    }
}

fn mount(volume: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: volume.to_owned(),
        mount_path: path.to_owned(),
        read_only: Some(read_only),
        ..VolumeMount::default()
    }
}

fn runtime_default() -> SeccompProfile {
    SeccompProfile {
        type_: "RuntimeDefault".to_owned(),
        localhost_profile: None,
    }
}
