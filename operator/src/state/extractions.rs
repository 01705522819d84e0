//! What the controller remembers of each school's reads, and the last valid declaration.

use std::collections::BTreeMap;
use std::time::SystemTime;

use super::backend::{StateRow, on_pool};
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
        let sql = "INSERT INTO school_extractions \
             (school, last_extraction, extracted_fields, refresh_handled, last_error, last_attempt) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (school) DO UPDATE SET last_extraction = excluded.last_extraction, \
             extracted_fields = excluded.extracted_fields, refresh_handled = excluded.refresh_handled, \
             last_error = excluded.last_error, last_attempt = excluded.last_attempt";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(&record.school)
            .bind(record.last_extraction.map(unix_seconds))
            .bind(&fields)
            .bind(&record.refresh_handled)
            .bind(&record.last_error)
            .bind(unix_seconds(record.last_attempt))
            .execute(pool)
            .await
            .map(drop))
        .map_err(StateError::query("store a school's read history"))
    }

    /// Every school's read history.
    pub async fn extractions(&self) -> Result<Vec<ExtractionRecord>, StateError> {
        let sql = "SELECT school, last_extraction, extracted_fields, refresh_handled, last_error, \
                   last_attempt FROM school_extractions ORDER BY school";
        on_pool!(self, pool => {
            let rows = sqlx::query(sql)
                .fetch_all(pool)
                .await
                .map_err(StateError::query("read schools' read history"))?;
            rows.iter().map(extraction_from_row).collect()
        })
    }

    /// Forgets a school's read history (the school is no longer declared).
    pub async fn remove_extraction(&self, school: &str) -> Result<(), StateError> {
        let sql = "DELETE FROM school_extractions WHERE school = $1";
        on_pool!(self, pool => sqlx::query(sql).bind(school).execute(pool).await.map(drop))
            .map_err(StateError::query("forget a school's read history"))
    }

    /// Stores the last declaration that validated, as JSON, with its git revision.
    pub async fn put_declaration(
        &self,
        resources: &str,
        revision: Option<&str>,
    ) -> Result<(), StateError> {
        let sql = "INSERT INTO declarations (id, resources, revision, applied_at) \
                   VALUES (1, $1, $2, $3) \
                   ON CONFLICT (id) DO UPDATE SET resources = excluded.resources, \
                   revision = excluded.revision, applied_at = excluded.applied_at";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(resources)
            .bind(revision)
            .bind(unix_seconds(SystemTime::now()))
            .execute(pool)
            .await
            .map(drop))
        .map_err(StateError::query("store the last valid declaration"))
    }

    /// The last declaration that validated, as JSON.
    pub async fn declaration(&self) -> Result<Option<String>, StateError> {
        let sql = "SELECT resources FROM declarations WHERE id = 1";
        on_pool!(self, pool => sqlx::query_scalar(sql).fetch_optional(pool).await)
            .map_err(StateError::query("read the last valid declaration"))
    }
}

fn extraction_from_row(row: &impl StateRow) -> Result<ExtractionRecord, StateError> {
    let read = || StateError::query("read schools' read history");
    let fields = row.text("extracted_fields").map_err(read())?;
    Ok(ExtractionRecord {
        school: row.text("school").map_err(read())?,
        last_extraction: row
            .int_or_null("last_extraction")
            .map_err(read())?
            .map(from_unix_seconds),
        extracted_fields: serde_json::from_str(&fields).unwrap_or_default(),
        refresh_handled: row.text_or_null("refresh_handled").map_err(read())?,
        last_error: row.text_or_null("last_error").map_err(read())?,
        last_attempt: from_unix_seconds(row.int("last_attempt").map_err(read())?),
    })
}
