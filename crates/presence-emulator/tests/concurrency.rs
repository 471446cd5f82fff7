//! Many clients at once: counts stay consistent.

mod common;

use common::get;
use presence_emulator::{Emulator, EmulatorConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_clients_fifty_channels() {
    let emu = Emulator::start(EmulatorConfig::new()).await.unwrap();
    let a = emu.local_addr();
    let mut tasks = Vec::new();
    for i in 0..200usize {
        tasks.push(tokio::spawn(async move {
            for k in 0..5 {
                let ch = format!("c{}", (i + k * 10) % 50);
                let r = get(
                    a,
                    &format!(
                        "/v2/presence/sub-key/demo/channel/{ch}/heartbeat?heartbeat=300&uuid=u{i}"
                    ),
                )
                .await;
                assert_eq!(r.status, 200);
            }
            if i % 2 == 0 {
                let r = get(
                    a,
                    &format!(
                        "/v2/presence/sub-key/demo/channel/c{}/leave?uuid=u{i}",
                        i % 50
                    ),
                )
                .await;
                assert_eq!(r.status, 200);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let r = get(a, "/v2/presence/sub-key/demo?uuid=x&disable_uuids=1")
        .await
        .json();
    assert_eq!(r["payload"]["total_channels"], 50);
    // 200 users × 5 channels, minus 100 leaves.
    assert_eq!(r["payload"]["total_occupancy"], 900);
    let sum: u64 = r["payload"]["channels"]
        .as_object()
        .unwrap()
        .values()
        .map(|c| c["occupancy"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, 900);
    emu.with_model(|m| {
        let s = m.stats();
        assert_eq!((s.occupants, s.expiry_entries, s.users), (900, 900, 200));
    });
    emu.shutdown().await;
}
