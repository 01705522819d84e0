//! Delivery: what each partner may receive, and how it travels.
//!
//! The pure part: who consent allows ([`audience`]), each record cut down to exactly the
//! agreement's fields ([`project_area`]), and the signed messages of [`wire`].

mod consent;
mod project;
pub mod send;
pub mod sync;
pub mod wire;

pub use consent::{Allows, Audience, Consent, OnRoll, Roll, audience};
pub use project::{Projected, project_area, shares};
