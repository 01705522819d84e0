//! A School's status with its extraction Job: what the embedded controller wrote, plus
//! `extractionJob`, `Reconciling` while a Job runs, and `Ready=False` until the first read
//! has finished (the controller alone would call a school never read converged).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

use crate::resources::ExtractionJobStatus;
use crate::resources::status::{reasons, set_condition, types};

/// Adds `job` to the School's `status` (JSON, as the state keeps it). `current` is the
/// status on the object, whose conditions keep their `lastTransitionTime` while unchanged.
pub fn with_job(
    status: &mut Value,
    current: Option<&Value>,
    job: &ExtractionJobStatus,
    generation: Option<i64>,
    now: Timestamp,
) {
    let Some(map) = status.as_object_mut() else {
        return;
    };
    let mut conditions: Vec<Condition> = map
        .get("conditions")
        .and_then(|c| serde_json::from_value(c.clone()).ok())
        .unwrap_or_default();
    let before: Vec<Condition> = current
        .and_then(|s| s.get("conditions"))
        .and_then(|c| serde_json::from_value(c.clone()).ok())
        .unwrap_or_default();
    let running = matches!(job.phase.as_str(), "Pending" | "Running");
    let never_read = map.get("cacheRefreshedAt").is_none_or(Value::is_null);

    let mut overridden = vec![types::RECONCILING];
    if running && never_read {
        overridden.push(types::READY);
    }
    // Start from the object's own copy of each condition set here, so its transition time
    // holds while it does not change.
    for type_ in &overridden {
        conditions.retain(|c| c.type_ != *type_);
        conditions.extend(before.iter().filter(|c| c.type_ == *type_).cloned());
    }
    let message = format!("Job {} reads the MIS", job.name);
    if running && never_read {
        let first = format!("the first read runs in Job {}", job.name);
        let reason = reasons::EXTRACTION_RUNNING;
        set_condition(
            &mut conditions,
            types::READY,
            Some(false),
            reason,
            first,
            generation,
            now,
        );
    }
    let (reason, message) = if running {
        (reasons::EXTRACTION_RUNNING, message)
    } else {
        (reasons::CONVERGED, String::new())
    };
    set_condition(
        &mut conditions,
        types::RECONCILING,
        Some(running),
        reason,
        message,
        generation,
        now,
    );

    map.insert(
        "conditions".to_owned(),
        serde_json::to_value(conditions).unwrap_or_default(),
    );
    map.insert(
        "extractionJob".to_owned(),
        serde_json::to_value(job).unwrap_or_default(),
    );
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn job(phase: &str) -> ExtractionJobStatus {
        ExtractionJobStatus {
            name: "ashby-primary-extract-1".to_owned(),
            phase: phase.to_owned(),
            attempt: 1,
            ..ExtractionJobStatus::default()
        }
    }

    fn converged() -> Value {
        json!({ "conditions": [{
            "type": "Ready", "status": "True", "reason": "Converged", "message": "0 people",
            "lastTransitionTime": "2026-12-01T10:00:00Z",
        }] })
    }

    fn condition(status: &Value, type_: &str) -> (String, String) {
        let found = status["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == type_)
            .unwrap();
        (
            found["status"].as_str().unwrap().to_owned(),
            found["reason"].as_str().unwrap().to_owned(),
        )
    }

    #[test]
    fn a_school_whose_first_read_runs_in_a_job_is_not_ready() {
        let mut status = converged();
        with_job(
            &mut status,
            None,
            &job("Running"),
            Some(1),
            Timestamp::now(),
        );
        assert_eq!(
            condition(&status, "Ready"),
            ("False".into(), "ExtractionRunning".into())
        );
        assert_eq!(
            condition(&status, "Reconciling"),
            ("True".into(), "ExtractionRunning".into())
        );
        assert_eq!(status["extractionJob"]["phase"], "Running");
    }

    #[test]
    fn a_school_read_before_stays_ready_while_it_is_read_again() {
        let mut status = converged();
        status["cacheRefreshedAt"] = json!("2026-12-01T09:00:00Z");
        with_job(
            &mut status,
            None,
            &job("Running"),
            Some(1),
            Timestamp::now(),
        );
        assert_eq!(
            condition(&status, "Ready"),
            ("True".into(), "Converged".into())
        );
        assert_eq!(condition(&status, "Reconciling").0, "True");
    }

    #[test]
    fn an_unchanged_condition_keeps_its_transition_time() {
        let mut first = converged();
        with_job(
            &mut first,
            None,
            &job("Succeeded"),
            Some(1),
            "2026-12-01T10:00:00Z".parse().unwrap(),
        );
        let mut again = converged();
        with_job(
            &mut again,
            Some(&first),
            &job("Succeeded"),
            Some(1),
            Timestamp::now(),
        );
        assert_eq!(first, again);
    }
}
