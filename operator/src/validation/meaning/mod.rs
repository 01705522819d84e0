//! Checks of meaning: what a schema cannot say about one resource, or about several.

mod agreements;
mod identity;
mod people;
mod references;
mod schools;

use super::KeyringState;
use super::declared::DeclaredSet;
use super::finding::Finding;

/// Runs every meaning check over the declared resources.
pub fn check(set: &DeclaredSet<'_>, keyring: &KeyringState, findings: &mut Vec<Finding>) {
    identity::check(set, findings);
    schools::check(set, findings);
    agreements::check(set, keyring, findings);
    references::check(set, findings);
    people::check(set, findings);
}
