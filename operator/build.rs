//! Rebuilds the crate when a migration changes, so `sqlx::migrate!` embeds the new schema.

fn main() {
    println!("cargo:rerun-if-changed=migrations/sqlite");
    println!("cargo:rerun-if-changed=migrations/postgres");
}
