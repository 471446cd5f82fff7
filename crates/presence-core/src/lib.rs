//! Sans-IO core of a PubNub-compatible Presence REST client.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use http;

pub mod encoding;
pub mod signature;
