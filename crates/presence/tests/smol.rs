//! The async client on smol (examples/smol's transport and runtime) against the
//! emulator over loopback: no tokio runtime on the client side; every operation
//! answered as on tokio; the heartbeat loop, the watch stream, the roster and the
//! fleet running on smol's executor and timer; transport failures typed; and a loop
//! without any runtime refused with a typed error.

#[path = "../examples/smol/transport.rs"]
mod transport;

use presence::fleet::FleetUser;
use presence::heartbeat::HeartbeatEvent;
use presence::roster::ChangeKind;
use presence::{ErrorKind, PresenceEvent, StartError, UserId};
use presence_emulator::{Emulator, EmulatorConfig};
use serde_json::json;
use std::time::Duration;

fn client(origin: &str, user: &str) -> presence::Client<transport::SmolTransport> {
    presence::Client::builder()
        .subscribe_key("demo")
        .user_id(user)
        .origin(origin)
        .runtime(transport::SmolRuntime)
        .build_with(transport::SmolTransport)
        .unwrap()
}

/// `future`, or a panic after 10 s (on smol's timer).
async fn within<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    use futures_lite::FutureExt as _;
    future
        .or(async {
            smol::Timer::after(Duration::from_secs(10)).await;
            panic!("{what}: nothing within 10 s")
        })
        .await
}

#[test]
fn the_async_client_and_its_loops_run_on_smol() {
    let emu = Emulator::start_blocking(EmulatorConfig::default()).unwrap();
    let origin = emu.origin();
    smol::block_on(async {
        assert!(
            tokio::runtime::Handle::try_current().is_err(),
            "no tokio runtime here"
        );
        let ann = client(&origin, "smol-ann");

        // One-shot operations.
        ann.heartbeat()
            .channels(["solo"])
            .state(json!({"runtime": "smol"}))
            .execute()
            .await
            .unwrap();
        let now = ann
            .here_now()
            .channels(["solo"])
            .include_state(true)
            .execute()
            .await
            .unwrap();
        assert_eq!(
            now.channels[0].to_string(),
            r#"solo (occupancy 1): smol-ann {"runtime":"smol"}"#
        );
        let all = ann
            .here_now()
            .channels(["solo"])
            .limit(1)
            .all_pages()
            .await
            .unwrap();
        assert_eq!(all.total_occupancy, 1);
        let state = ann.get_state().channels(["solo"]).execute().await.unwrap();
        assert_eq!(state.channels["solo"], json!({"runtime": "smol"}));
        ann.leave().channels(["solo"]).execute().await.unwrap();

        // The loops, on smol's executor and timer.
        let observer = client(&origin, "smol-observer");
        let mut events = observer.watch().channels(["lobby"]).start().unwrap();
        assert!(within("watch connected", events.connected()).await);
        let mut roster = observer.roster().channels(["lobby"]).start().unwrap();
        within("roster synced", roster.synced()).await.unwrap();
        let mut handle = ann
            .presence()
            .channels(["lobby"])
            .state(json!({"runtime": "smol"}))
            .connected(true)
            .unwrap();
        loop {
            match within("a heartbeat", handle.next_event()).await {
                Some(HeartbeatEvent::Succeeded) => break,
                Some(_) => {}
                None => panic!("the heartbeat loop ended"),
            }
        }
        match within("the join", events.next_presence()).await {
            Some(Ok(PresenceEvent::Join(c))) => assert_eq!(c.user_id, "smol-ann"),
            other => panic!("expected ann's join, got {other:?}"),
        }
        // The start's resync may still be queued ahead of the join.
        loop {
            let change = within("the roster's change", roster.next_change())
                .await
                .unwrap()
                .unwrap();
            match change.change {
                ChangeKind::Joined(member) => {
                    assert_eq!(member.user_id, "smol-ann");
                    break;
                }
                ChangeKind::Resynced { .. } => {}
                other => panic!("expected ann's join in the roster, got {other:?}"),
            }
        }
        assert_eq!(roster.member_count("lobby"), 1);

        let mut fleet = ann.fleet().spread(Duration::ZERO).start().unwrap();
        for i in 0..20 {
            fleet
                .add(
                    FleetUser::new(UserId::new(format!("smol-bot-{i}")).unwrap())
                        .channels(["lobby"]),
                )
                .unwrap();
        }
        while fleet.stats().present < 20 {
            within("the fleet", fleet.next_event()).await;
        }
        assert_eq!(
            ann.here_now()
                .channels(["lobby"])
                .execute()
                .await
                .unwrap()
                .total_occupancy,
            21
        );
        fleet.stop().await;
        handle.stop().await;
        let now = ann.here_now().channels(["lobby"]).execute().await.unwrap();
        assert_eq!(now.total_occupancy, 0, "every leave went out");

        // A closed port is a typed transport error, not a hang.
        let dead = client("http://127.0.0.1:9", "smol-user");
        let err = dead.where_now().execute().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
    });

    // No runtime given and no tokio runtime current: a typed refusal, not a panic.
    let bare = presence::Client::builder()
        .subscribe_key("demo")
        .user_id("x")
        .origin(&origin)
        .build_with(transport::SmolTransport)
        .unwrap();
    let refused = bare.watch().channels(["lobby"]).start();
    assert!(matches!(refused, Err(StartError::NoRuntime)), "{refused:?}");
}
