//! What the controller remembers of each school's reads, and the last valid declaration.

use std::collections::BTreeMap;
use std::time::SystemTime;

use sqlx::Row;

use super::{State, StateError, from_unix_seconds, unix_seconds};

/// One school's read history, as the planner needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtractionRecord {
    /// `namespace/name` of the school.
    pub school: String,
    /// When the MIS was last read successfully.
    pub last_extraction: Option<SystemTime>,
    /// The fields that read took: area name to field names.
    pub extracted_fields: BTreeMap<String, Vec<String>>,
    /// The refresh annotation value last acted on.
    pub refresh_handled: Option<String>,
    /// Why the last attempt failed, if it did. Never holds personal data.
    pub last_error: Option<String>,
    /// When a read was last attempted.
    pub last_attempt: SystemTime,
}

impl State {
    /// Stores a school's read history.
    pub async fn put_extraction(&self, record: &ExtractionRecord) -> Result<(), StateError> {
        let fields =
            serde_json::to_string(&record.extracted_fields).unwrap_or_else(|_| "{}".to_owned());
        sqlx::query(
            "INSERT INTO school_extractions \
             (school, last_extraction, extracted_fields, refresh_handled, last_error, last_attempt) \
             VALUES (?, ?, ?, ?, ?, ?) \
             ON CONFLICT (school) DO UPDATE SET last_extraction = excluded.last_extraction, \
             extracted_fields = excluded.extracted_fields, refresh_handled = excluded.refresh_handled, \
             last_error = excluded.last_error, last_attempt = excluded.last_attempt",
        )
        .bind(&record.school)
        .bind(record.last_extraction.map(unix_seconds))
        .bind(fields)
        .bind(&record.refresh_handled)
        .bind(&record.last_error)
        .bind(unix_seconds(record.last_attempt))
        .execute(&self.pool)
        .await
        .map_err(StateError::query("store a school's read history"))?;
        Ok(())
    }

    /// Every school's read history.
    pub async fn extractions(&self) -> Result<Vec<ExtractionRecord>, StateError> {
        let rows = sqlx::query(
            "SELECT school, last_extraction, extracted_fields, refresh_handled, last_error, last_attempt \
             FROM school_extractions ORDER BY school",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(StateError::query("read schools' read history"))?;
        Ok(rows
            .iter()
            .map(|row| ExtractionRecord {
                school: row.get("school"),
                last_extraction: row
                    .get::<Option<i64>, _>("last_extraction")
                    .map(from_unix_seconds),
                extracted_fields: serde_json::from_str(row.get::<&str, _>("extracted_fields"))
                    .unwrap_or_default(),
                refresh_handled: row.get("refresh_handled"),
                last_error: row.get("last_error"),
                last_attempt: from_unix_seconds(row.get("last_attempt")),
            })
            .collect())
    }

    /// Forgets a school's read history (the school is no longer declared).
    pub async fn remove_extraction(&self, school: &str) -> Result<(), StateError> {
        sqlx::query("DELETE FROM school_extractions WHERE school = ?")
            .bind(school)
            .execute(&self.pool)
            .await
            .map_err(StateError::query("forget a school's read history"))?;
        Ok(())
    }

    /// Stores the last declaration that validated, as JSON, with its git revision.
    pub async fn put_declaration(
        &self,
        resources: &str,
        revision: Option<&str>,
    ) -> Result<(), StateError> {
        sqlx::query(
            "INSERT INTO declarations (id, resources, revision, applied_at) VALUES (1, ?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET resources = excluded.resources, \
             revision = excluded.revision, applied_at = excluded.applied_at",
        )
        .bind(resources)
        .bind(revision)
        .bind(unix_seconds(SystemTime::now()))
        .execute(&self.pool)
        .await
        .map_err(StateError::query("store the last valid declaration"))?;
        Ok(())
    }

    /// The last declaration that validated, as JSON.
    pub async fn declaration(&self) -> Result<Option<String>, StateError> {
        sqlx::query_scalar("SELECT resources FROM declarations WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(StateError::query("read the last valid declaration"))
    }
}
