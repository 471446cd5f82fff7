//! Reference models of the engines for the property tests (`engine_props.rs`).

pub(crate) mod heartbeat;
pub(crate) mod watch;
