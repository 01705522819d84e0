//! The embedded controller behind `accord run`: loads the declared folder, plans, reads
//! MIS data into the encrypted cache, and writes every resource's status.

pub mod extract;
pub mod revision;
pub mod watch;
