//! The status the controller last wrote for each resource, kept as JSON so `accord status`
//! and the portal can show it without a cluster.

use std::fmt;
use std::time::SystemTime;

use super::backend::on_pool;
use super::{State, StateError, unix_seconds};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Which resource a status belongs to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceRef {
    /// The resource kind, e.g. `DataSharingAgreement`.
    pub kind: String,
    /// The namespace it is declared in.
    pub namespace: String,
    /// Its name within the namespace.
    pub name: String,
}

impl ResourceRef {
    /// A reference to `kind` `namespace/name`.
    pub fn new(kind: &str, namespace: &str, name: &str) -> ResourceRef {
        ResourceRef {
            kind: kind.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }
}

impl fmt::Display for ResourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

impl State {
    /// Stores `status` as the resource's current status, replacing any earlier one.
    pub async fn upsert_status<S: Serialize>(
        &self,
        resource: &ResourceRef,
        status: &S,
    ) -> Result<(), StateError> {
        let json = serde_json::to_string(status).map_err(|source| StateError::EncodeStatus {
            resource: resource.to_string(),
            source,
        })?;

        let sql = "INSERT INTO resource_status (kind, namespace, name, status, updated_at) \
                   VALUES ($1, $2, $3, $4, $5) \
                   ON CONFLICT (kind, namespace, name) \
                   DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(&resource.kind)
            .bind(&resource.namespace)
            .bind(&resource.name)
            .bind(&json)
            .bind(unix_seconds(SystemTime::now()))
            .execute(pool)
            .await
            .map(drop))
        .map_err(StateError::query("store the status of a resource"))
    }

    /// The resource's stored status, or `None` when none was written yet.
    pub async fn status<S: DeserializeOwned>(
        &self,
        resource: &ResourceRef,
    ) -> Result<Option<S>, StateError> {
        let sql = "SELECT status FROM resource_status \
                   WHERE kind = $1 AND namespace = $2 AND name = $3";
        let json: Option<String> = on_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(&resource.kind)
            .bind(&resource.namespace)
            .bind(&resource.name)
            .fetch_optional(pool)
            .await)
        .map_err(StateError::query("read the status of a resource"))?;

        json.map(|json| decode(resource, &json)).transpose()
    }

    /// Forgets a resource's status: it is no longer declared.
    pub async fn remove_status(&self, resource: &ResourceRef) -> Result<(), StateError> {
        let sql = "DELETE FROM resource_status WHERE kind = $1 AND namespace = $2 AND name = $3";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(&resource.kind)
            .bind(&resource.namespace)
            .bind(&resource.name)
            .execute(pool)
            .await
            .map(drop))
        .map_err(StateError::query("forget the status of a resource"))
    }

    /// Every stored status of one kind, ordered by namespace and name.
    pub async fn statuses<S: DeserializeOwned>(
        &self,
        kind: &str,
    ) -> Result<Vec<(ResourceRef, S)>, StateError> {
        let sql = "SELECT namespace, name, status FROM resource_status WHERE kind = $1 \
                   ORDER BY namespace, name";
        let rows: Vec<(String, String, String)> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(kind)
            .fetch_all(pool)
            .await)
        .map_err(StateError::query("list the statuses of a kind"))?;

        let mut statuses = Vec::with_capacity(rows.len());
        for (namespace, name, json) in rows {
            let resource = ResourceRef {
                kind: kind.to_owned(),
                namespace,
                name,
            };
            let status = decode(&resource, &json)?;
            statuses.push((resource, status));
        }
        Ok(statuses)
    }
}

fn decode<S: DeserializeOwned>(resource: &ResourceRef, json: &str) -> Result<S, StateError> {
    serde_json::from_str(json).map_err(|source| StateError::DecodeStatus {
        resource: resource.to_string(),
        source,
    })
}
