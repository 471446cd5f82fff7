//! The blocking watcher keeps at most one long-poll in flight and one long-poll thread,
//! however often its channels change (issue 11: it used to start a thread per long-poll
//! and leave the superseded ones running). In a test binary of its own, so that no
//! other test's watcher threads are counted.
#![cfg(feature = "ureq")]

use presence::blocking::Client;
use presence::PresenceEvent;
use presence_emulator::{Emulator, EmulatorConfig};
use std::time::Duration;

/// Threads of this process whose name starts with `prefix` (Linux `/proc`; names are
/// cut to 15 bytes there). An unnamed thread inherits its creator's name: ureq's name
/// lookup runs on a short-lived thread spawned by the worker, so a second
/// `presence-long-p` can show for a moment; a leaked long-poll would stay for minutes.
fn threads_named(prefix: &str) -> Option<usize> {
    let tasks = std::fs::read_dir("/proc/self/task").ok()?;
    Some(
        tasks
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
            .filter(|name| name.trim_end().starts_with(prefix))
            .count(),
    )
}

#[test]
fn fifty_channel_changes_leave_one_long_poll_thread() {
    let emu = Emulator::start_blocking(EmulatorConfig::default()).unwrap();
    let client = |user: &str| {
        Client::builder()
            .subscribe_key("demo")
            .user_id(user)
            .origin(emu.origin())
            .build_blocking()
            .unwrap()
    };
    let watcher = client("w");
    let mut events = watcher.watch().channels(["c0"]).start().unwrap();
    assert!(events.connected(Duration::from_secs(10)));
    for i in 1..=50 {
        events.add([format!("c{i}")], Vec::<String>::new());
        events.remove([format!("c{}", i - 1)], Vec::<String>::new());
        if i % 10 == 0 {
            std::thread::sleep(Duration::from_millis(20));
        }
        let settled = (0..20).any(|_| {
            let n = threads_named("presence-long-p").unwrap_or(0);
            n <= 1 || {
                std::thread::sleep(Duration::from_millis(50));
                false
            }
        });
        assert!(
            settled,
            "{:?} long-poll threads after {i} changes",
            threads_named("presence-long-p")
        );
    }
    // The watch still works on the last channel.
    std::thread::sleep(Duration::from_millis(200));
    client("ann")
        .heartbeat()
        .channels(["c50"])
        .execute()
        .unwrap();
    loop {
        match events.next_presence(Duration::from_secs(10)) {
            Some(Ok(PresenceEvent::Join(j))) if j.channel == "c50" => {
                assert_eq!(j.user_id, "ann");
                break;
            }
            Some(Ok(_)) => {}
            other => panic!("expected ann's join on c50, got {other:?}"),
        }
    }
    assert!(
        (0..20).any(|_| {
            threads_named("presence-long-p").is_none_or(|n| n == 1) || {
                std::thread::sleep(Duration::from_millis(50));
                false
            }
        }),
        "one worker while watching"
    );
    drop(events);
    // Dropping the watcher interrupts its long-poll: the worker ends soon after.
    let gone = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        threads_named("presence-long-p").is_none_or(|n| n == 0)
    });
    assert!(
        gone,
        "the long-poll thread ends after the watcher is dropped"
    );
}
