use serde_json::json;

use super::*;
use crate::catalogue::Area;
use crate::mis::FieldSet;

fn school() -> School {
    serde_json::from_value(json!({
        "apiVersion": "accord.dev/v1alpha1",
        "kind": "School",
        "metadata": { "name": "ashby-primary", "namespace": "trust", "uid": "u-1" },
        "spec": {
            "urn": "139201", "laEstab": "8812001", "displayName": "Ashby",
            "mis": { "oneRosterRest": {
                "baseUrl": "https://mis.example/ims/oneroster/v1p1",
                "version": "1.1",
                "tokenUrl": "https://mis.example/token",
                "clientIdRef": { "name": "ashby-mis", "key": "client-id" },
                "clientSecretRef": { "name": "ashby-mis", "key": "client-secret" },
            } },
            "dataLocation": { "country": "GB", "region": "London" },
        },
    }))
    .unwrap()
}

fn request() -> ReadRequest {
    ReadRequest {
        school: ObjectKey::of(&school()),
        fields: FieldSet::new()
            .with(Area::Students, &["givenName", "yearGroup"])
            .unwrap(),
        retention: Duration::from_secs(86_400),
        reason: "FirstExtraction".to_owned(),
    }
}

fn settings() -> JobSettings {
    JobSettings {
        image: "ghcr.io/accord/accord:0.1.0".to_owned(),
        state_claim: "accord-state".to_owned(),
        mis_claim: None,
        master_key_secret: Some("accord-master-key".to_owned()),
        database_secret: None,
    }
}

fn observed(phase: Phase, attempt: i64, finish: Option<&str>) -> Observed {
    Observed {
        name: "ashby-primary-extract-1".to_owned(),
        phase,
        attempt,
        request: "r1".to_owned(),
        start: None,
        finish: finish.map(|f| f.parse().unwrap()),
        reason: None,
        message: None,
    }
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn job() -> Job {
    let now = at("2026-12-01T10:00:00Z");
    job_for(&school(), &request(), "r1", 1, &settings(), now)
}

fn pod() -> k8s_openapi::api::core::v1::PodSpec {
    job().spec.unwrap().template.spec.unwrap()
}

#[test]
fn the_job_is_owned_by_its_school_and_runs_accord_extract_for_the_planned_fields() {
    let job = job();
    let owner = &job.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str(), owner.controller),
        ("School", "ashby-primary", Some(true))
    );
    let pod = job.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    let container = &pod.containers[0];
    assert_eq!(
        container.command.as_deref(),
        Some(&["accord".to_owned()][..])
    );
    let args = container.args.as_ref().unwrap();
    assert_eq!(args[0], "extract");
    assert!(args.contains(&"--school=trust/ashby-primary".to_owned()));
    assert!(
        args.contains(
            &"--fields=students.givenName,students.sourcedId,students.yearGroup".to_owned()
        ),
        "{args:?}"
    );
    assert!(args.contains(&"--master-key-file=/etc/accord/master-key/master.key".to_owned()));
}

#[test]
fn the_job_mounts_the_schools_secrets_and_carries_no_secret_value() {
    let pod = pod();
    let volumes = pod.volumes.unwrap();
    let secret = volumes
        .iter()
        .find_map(|v| {
            v.secret
                .as_ref()
                .filter(|s| s.secret_name.as_deref() == Some("ashby-mis"))
        })
        .expect("the MIS credentials are mounted");
    let keys: Vec<&str> = secret
        .items
        .iter()
        .flatten()
        .map(|i| i.key.as_str())
        .collect();
    assert_eq!(keys, ["client-id", "client-secret"]);
    let mounts = pod.containers[0].volume_mounts.clone().unwrap();
    assert!(
        mounts
            .iter()
            .any(|m| m.mount_path == "/etc/accord/secrets/ashby-mis")
    );
    let env = pod.containers[0].env.clone().unwrap();
    assert!(env.iter().all(|e| e.value_from.is_none()));
    assert!(env.iter().any(|e| e.name == "ACCORD_STATE"));
}

#[test]
fn on_postgresql_the_job_takes_the_database_url_from_its_secret_never_as_a_value() {
    let settings = JobSettings {
        database_secret: Some(("accord-db".to_owned(), "url".to_owned())),
        ..settings()
    };
    let now = at("2026-12-01T10:00:00Z");
    let job = job_for(&school(), &request(), "r1", 1, &settings, now);
    let pod = job.spec.unwrap().template.spec.unwrap();
    let env = pod.containers[0].env.clone().unwrap();
    let url = env
        .iter()
        .find(|e| e.name == "ACCORD_DATABASE_URL")
        .expect("the Job is told where the state database is");
    assert_eq!(url.value, None);
    let from = url
        .value_from
        .as_ref()
        .and_then(|v| v.secret_key_ref.as_ref())
        .expect("from a Secret");
    assert_eq!(
        (from.name.as_str(), from.key.as_str()),
        ("accord-db", "url")
    );
    // Without PostgreSQL, no such variable: the Job uses the shared folder.
    let env = pod_env(&job_for(
        &school(),
        &request(),
        "r1",
        1,
        &self::settings(),
        now,
    ));
    assert!(env.iter().all(|e| e.name != "ACCORD_DATABASE_URL"));
}

fn pod_env(job: &Job) -> Vec<k8s_openapi::api::core::v1::EnvVar> {
    let pod = job.spec.clone().unwrap().template.spec.unwrap();
    pod.containers[0].env.clone().unwrap()
}

#[test]
fn the_jobs_pod_is_restricted() {
    let pod = pod();
    let context = pod.security_context.unwrap();
    assert_eq!(context.run_as_non_root, Some(true));
    assert_eq!(context.seccomp_profile.unwrap().type_, "RuntimeDefault");
    let container = pod.containers[0].security_context.clone().unwrap();
    assert_eq!(container.allow_privilege_escalation, Some(false));
    assert_eq!(container.read_only_root_filesystem, Some(true));
    assert_eq!(container.capabilities.unwrap().drop.unwrap(), ["ALL"]);
    assert_eq!(pod.automount_service_account_token, Some(false));
}

#[test]
fn a_read_with_no_job_starts_one_and_a_running_job_is_waited_for() {
    let now = at("2026-12-01T10:00:00Z");
    assert_eq!(decide(None, "r1", now), Decision::Create { attempt: 1 });
    let running = observed(Phase::Running, 1, None);
    assert_eq!(decide(Some(&running), "r1", now), Decision::Wait(None));
}

#[test]
fn a_failed_job_is_tried_again_after_a_growing_backoff() {
    let failed = observed(Phase::Failed, 2, Some("2026-12-01T10:00:00Z"));
    assert_eq!(backoff(2), Duration::from_secs(20));
    assert_eq!(
        decide(Some(&failed), "r1", at("2026-12-01T10:00:05Z")),
        Decision::Wait(Some(at("2026-12-01T10:00:20Z")))
    );
    assert_eq!(
        decide(Some(&failed), "r1", at("2026-12-01T10:00:21Z")),
        Decision::Create { attempt: 3 }
    );
    assert_eq!(backoff(40), Duration::from_secs(600));
}

#[test]
fn a_changed_read_does_not_wait_for_the_old_ones_backoff() {
    let failed = observed(Phase::Failed, 5, Some("2026-12-01T10:00:00Z"));
    assert_eq!(
        decide(Some(&failed), "r2", at("2026-12-01T10:00:01Z")),
        Decision::Create { attempt: 1 }
    );
}
