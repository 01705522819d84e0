//! Delivery: what each partner may receive. This part is pure: who consent allows, and
//! each record cut down to exactly the agreement's fields.
//!
//! Limitation: batches, their signatures, HTTPS push, the partner pull API and deletion
//! notices are not built yet; these functions are what they will send.

mod consent;
mod project;

pub use consent::{Audience, audience};
pub use project::{project, project_area};
