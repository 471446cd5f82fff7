//! Access Manager permissions over loopback (issue 15, item 8): registry writes need
//! `manage` on the group; a token that may only read a group cannot add a channel to
//! it and then read that channel's occupants and state through it.

mod common;

use common::get;
use presence_emulator::{Emulator, EmulatorConfig, Grant, Keyset, Permissions};
use std::time::Duration;

const REG: &str = "/v1/channel-registration/sub-key/pam/channel-group";
const P: &str = "/v2/presence/sub-key/pam";

fn config(keyset: Keyset) -> EmulatorConfig {
    EmulatorConfig::new()
        .keyset(keyset)
        .paused_clock(Duration::from_secs(1_700_000_000))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_grant_on_a_group_cannot_add_a_channel_to_it() {
    let emu = Emulator::start(config(
        Keyset::new("pam")
            .grant("tok-a", Vec::<String>::new(), ["gA"])
            .grant("tok-b", ["B"], Vec::<String>::new()),
    ))
    .await
    .unwrap();
    let a = emu.local_addr();
    // Bob is on B, with state.
    let r = get(
        a,
        &format!("{P}/channel/B/heartbeat?heartbeat=300&uuid=bob&auth=tok-b&state=%7B%22pin%22%3A1234%7D"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // tok-a (group gA only) tries to put B into gA.
    let r = get(a, &format!("{REG}/gA?add=B&uuid=eve&auth=tok-a")).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.json()["payload"]["channel-groups"][0], "gA");
    // ...so reading gA shows nothing of B.
    let r = get(
        a,
        &format!("{P}/channel/,?channel-group=gA&state=1&uuid=eve&auth=tok-a"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["payload"]["total_occupancy"], 0, "{}", r.body);
    assert!(
        !r.body.contains("bob") && !r.body.contains("1234"),
        "{}",
        r.body
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_operation_needs_its_permission() {
    let emu = Emulator::start(config(
        Keyset::new("pam")
            .add_grant(Grant::new("reader", Permissions::READ).with_channel_groups(["gA"]))
            .add_grant(Grant::new("writer", Permissions::WRITE).with_channels(["A"]))
            .add_grant(
                Grant::new("admin", Permissions::MANAGE)
                    .with_channel_groups(["gA"])
                    .with_channels(["A"]),
            )
            .grant("client", ["A"], ["gA"]),
    ))
    .await
    .unwrap();
    let a = emu.local_addr();
    let status = |target: String| async move { get(a, &target).await.status };
    // Registry: manage writes, read or manage lists.
    assert_eq!(
        status(format!("{REG}/gA?add=A&uuid=x&auth=reader")).await,
        403
    );
    assert_eq!(
        status(format!("{REG}/gA?add=A&uuid=x&auth=client")).await,
        403
    );
    assert_eq!(
        status(format!("{REG}/gA?add=A&uuid=x&auth=admin")).await,
        200
    );
    assert_eq!(status(format!("{REG}/gA?uuid=x&auth=reader")).await, 200);
    assert_eq!(status(format!("{REG}/gA?uuid=x&auth=admin")).await, 200);
    assert_eq!(status(format!("{REG}/gA?uuid=x&auth=writer")).await, 403);
    assert_eq!(
        status(format!("{REG}/gA?remove=A&uuid=x&auth=reader")).await,
        403
    );
    assert_eq!(
        status(format!("{REG}/gA/remove?uuid=x&auth=client")).await,
        403
    );
    // Presence: read. `write` alone (publish, not emulated) and `manage` alone do not.
    for op in [
        format!("{P}/channel/A/heartbeat?uuid=u"),
        format!("{P}/channel/A?uuid=u"),
        format!("{P}/channel/A/uuid/u?uuid=u"),
        format!("{P}/channel/A/uuid/u/data?uuid=u&state=%7B%7D"),
        "/v2/subscribe/pam/A,A-pnpres/0?uuid=u".to_owned(),
    ] {
        assert_eq!(status(format!("{op}&auth=client")).await, 200, "{op}");
        assert_eq!(status(format!("{op}&auth=writer")).await, 403, "{op}");
        assert_eq!(status(format!("{op}&auth=admin")).await, 403, "{op}");
        assert_eq!(status(op.clone()).await, 403, "{op}");
    }
    // Through the group, with read on the group.
    assert_eq!(
        status(format!("{P}/channel/,?channel-group=gA&uuid=u&auth=reader")).await,
        200
    );
    // Leave needs no permission (PAM: unsubscribe requires none).
    assert_eq!(status(format!("{P}/channel/A/leave?uuid=u")).await, 200);
    // Deleting the group: manage.
    assert_eq!(
        status(format!("{REG}/gA/remove?uuid=x&auth=admin")).await,
        200
    );
    emu.shutdown().await;
}
