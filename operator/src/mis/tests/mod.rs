//! Tests of the MIS readers and writers, against the shared real-world fixtures and
//! against small inputs built in temporary folders.

use std::path::PathBuf;

mod bundle_builder;
mod ctf_read;
mod fixtures;
mod malformed;
mod quirks;
mod sample_round_trip;
mod zip_bundle;

/// The shared fixtures folder, or `None` (with a note) when this checkout lacks it.
fn fixtures_dir() -> Option<PathBuf> {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let found = ["../../shared/fixtures", "../shared/fixtures"]
        .iter()
        .map(|relative| manifest_dir.join(relative))
        .find(|path| path.is_dir());
    if found.is_none() {
        println!("note: shared/fixtures not found beside the checkout; fixture test skipped");
    }
    found
}
