//! The emulator's transport-level faults (latency, a body cut mid-way, a connection
//! closed without a response) reach both bundled transports, through the clients, as
//! their typed errors; the client keeps working once the rule is cleared.

use presence_emulator::{Emulator, EmulatorConfig, FaultRule};
use std::time::Duration;

fn rule(s: &str) -> FaultRule {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// The three faults, the request timeout that makes the latency one fail, and the
/// variant each must come back as.
const LATENCY: &str = "op=here_now,latency=5s";
const CUT: &str = "op=here_now,cut";
const CLOSE: &str = "op=here_now,close";
const TIMEOUT: Duration = Duration::from_millis(300);

/// Which variant of the transports' one error type a failure is.
fn variant(e: &transport_common::Error) -> &'static str {
    use transport_common::Error::*;
    match e {
        Timeout { .. } => "timeout",
        Io { .. } => "io",
        Http { .. } => "http",
        Connect { .. } => "connect",
        _ => "other",
    }
}

#[cfg(feature = "hyper")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_cut_bodies_and_closed_connections_reach_the_hyper_transport_typed() {
    let emu = Emulator::start(EmulatorConfig::new()).await.unwrap();
    let transport = transport_hyper::HyperTransport::builder()
        .request_timeout(TIMEOUT)
        .build()
        .unwrap();
    let c = presence::ClientBuilder::new()
        .subscribe_key("demo")
        .user_id("ann")
        .origin(emu.origin())
        .build_with(transport)
        .unwrap();
    let here = || async { c.here_now().channels(["lobby"]).execute().await };
    assert_eq!(here().await.unwrap().total_occupancy, 0);
    for (fault, expected) in [(LATENCY, "timeout"), (CUT, "io"), (CLOSE, "http")] {
        emu.set_faults(vec![rule(fault)]);
        let err = here().await.unwrap_err();
        let t = err
            .transport()
            .unwrap_or_else(|| panic!("{fault}: {err:?}"));
        assert_eq!(variant(t), expected, "{fault}: {t:?}");
        if expected == "timeout" {
            assert!(matches!(t, transport_common::Error::Timeout { after } if *after == TIMEOUT));
        }
        emu.clear_faults();
        assert_eq!(here().await.unwrap().total_occupancy, 0, "after {fault}");
    }
}

#[cfg(feature = "ureq")]
#[test]
fn latency_cut_bodies_and_closed_connections_reach_the_ureq_transport_typed() {
    let emu = Emulator::start_blocking(EmulatorConfig::new()).unwrap();
    let transport = transport_ureq::UreqTransport::builder()
        .request_timeout(TIMEOUT)
        .build();
    let c = presence::ClientBuilder::new()
        .subscribe_key("demo")
        .user_id("ann")
        .origin(emu.origin())
        .build_blocking_with(transport)
        .unwrap();
    let here = || c.here_now().channels(["lobby"]).execute();
    assert_eq!(here().unwrap().total_occupancy, 0);
    for (fault, expected) in [(LATENCY, "timeout"), (CUT, "io"), (CLOSE, "io")] {
        emu.set_faults(vec![rule(fault)]);
        let err = here().unwrap_err();
        let t = err
            .transport()
            .unwrap_or_else(|| panic!("{fault}: {err:?}"));
        assert_eq!(variant(t), expected, "{fault}: {t:?}");
        emu.clear_faults();
        assert_eq!(here().unwrap().total_occupancy, 0, "after {fault}");
    }
}
