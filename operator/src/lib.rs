//! Accord shares school data with partner services under data sharing agreements, and
//! nothing else.
//!
//! The crate is laid out as the data path runs: `resources` (what a Trust declares),
//! `catalogue` (what may flow), `manifest` (reading YAML with positions), `validation` and
//! `signing` (what may take effect), `crds` (the API published to Kubernetes), `mis`
//! (reading schools' MIS data in its standard formats, and an invented school for demos
//! and tests), `delivery` (what each partner may receive, and the signed messages that carry
//! it), `partner` (a partner's receiving end, for demos and tests), `tls` (certificates for
//! Accord's HTTPS servers), `operator` (the controller inside a cluster), and `cli` (the
//! `accord` command).

#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]

pub mod api;
pub mod cache;
pub mod catalogue;
pub mod cli;
pub mod controller;
pub mod crds;
pub mod delivery;
pub mod demo;
pub mod ledger;
pub mod manifest;
pub mod mis;
pub mod operator;
pub mod partner;
pub mod plan;
pub mod portal;
pub mod resources;
pub mod signing;
pub mod state;
pub mod tls;
pub mod validation;
