//! Delivery: what each partner may receive. This part is pure: who consent allows, each
//! record cut down to exactly the agreement's fields, and the signed batch it travels in.
//!
//! Limitation: HTTPS push, retries, the partner pull API and deletion notices are not
//! built yet; these functions are what they will send.

pub mod batch;
mod consent;
mod project;

pub use batch::{Batch, build_batch};
pub use consent::{Audience, audience};
pub use project::{project, project_area};
