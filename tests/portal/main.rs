//! The transparency portal, end to end: `accord run` serves the example Trust after a
//! real delivery to the partners' receivers; `browser` drives headless Chromium through
//! every page, `authorisation` asks as nobody, as an expired token and as another school.

#[path = "../common/mod.rs"]
mod common;

mod authorisation;
mod browser;
mod server;
