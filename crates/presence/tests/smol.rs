//! The async client on smol (examples/smol's transport) against the emulator over
//! loopback: no tokio runtime on the client side, every operation answered as on
//! tokio, and transport failures typed.

#[path = "../examples/smol/transport.rs"]
mod transport;

use presence::ErrorKind;
use presence_emulator::{Emulator, EmulatorConfig};
use serde_json::json;

#[test]
fn the_async_client_runs_on_smol() {
    let emu = Emulator::start_blocking(EmulatorConfig::default()).unwrap();
    let origin = emu.origin();
    smol::block_on(async {
        assert!(
            tokio::runtime::Handle::try_current().is_err(),
            "no tokio runtime here"
        );
        let client = presence::Client::builder()
            .subscribe_key("demo")
            .user_id("smol-user")
            .origin(&origin)
            .build_with(transport::SmolTransport)
            .unwrap();
        client
            .heartbeat()
            .channels(["lobby"])
            .state(json!({"runtime": "smol"}))
            .execute()
            .await
            .unwrap();
        let now = client
            .here_now()
            .channels(["lobby"])
            .include_state(true)
            .execute()
            .await
            .unwrap();
        assert_eq!(
            now.channels[0].to_string(),
            r#"lobby (occupancy 1): smol-user {"runtime":"smol"}"#
        );
        let all = client
            .here_now()
            .channels(["lobby"])
            .limit(1)
            .all_pages()
            .await
            .unwrap();
        assert_eq!(all.total_occupancy, 1);
        let state = client
            .get_state()
            .channels(["lobby"])
            .execute()
            .await
            .unwrap();
        assert_eq!(state.channels["lobby"], json!({"runtime": "smol"}));
        assert_eq!(
            client.where_now().execute().await.unwrap().channels,
            ["lobby"]
        );
        client.leave().channels(["lobby"]).execute().await.unwrap();
        let now = client
            .here_now()
            .channels(["lobby"])
            .execute()
            .await
            .unwrap();
        assert_eq!(now.total_occupancy, 0);

        // A closed port is a typed transport error, not a hang.
        let dead = presence::Client::builder()
            .subscribe_key("demo")
            .user_id("smol-user")
            .origin("http://127.0.0.1:9")
            .build_with(transport::SmolTransport)
            .unwrap();
        let err = dead.where_now().execute().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
    });
}
