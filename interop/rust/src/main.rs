//! Interop check: the official `pubnub` Rust crate (0.9) against presence-emulator.
//!
//! ```text
//! presence-interop-rust --origin http://127.0.0.1:PORT \
//!     [--plain-keyset SUB] [--signed-keyset SUB:PUB:SECRET]
//! ```
//!
//! Runs every presence operation the crate has (here now, where now, heartbeat,
//! leave, set state, get state, set state with heartbeat) through its reqwest
//! transport pointed at the emulator by `hostname`, once on a plain keyset and once on
//! a signed one, and checks the typed results. The crate has no channel-group API, so
//! groups are set up with raw registry requests sent through the same reqwest
//! transport (signed with our own implementation of PROTOCOL.md §6).
//!
//! Prints one `PASS`/`FAIL`/`XFAIL` line per check, then `rust: N passed, N failed`;
//! exits 1 if any check failed.

use async_trait::async_trait;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use hmac::{Hmac, Mac};
use percent_encoding::{percent_encode, AsciiSet, NON_ALPHANUMERIC};
use pubnub::core::{PubNubError, Transport, TransportMethod, TransportRequest, TransportResponse};
use pubnub::presence::result::HereNowResult;
use pubnub::providers::deserialization_serde::DeserializerSerde;
use pubnub::transport::TransportReqwest;
use pubnub::{Keyset, PubNubClientBuilder, PubNubGenericClient};
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type CheckResult = Result<(), BoxError>;
type Client = PubNubGenericClient<Recording, DeserializerSerde>;

/// Checks known to fail: (name suffix after `plain: ` / `signed: `, text the error must
/// contain, reason). Strict: a listed check that passes, or fails with another error,
/// is a failure.
const EXPECTED_FAILURES: &[(&str, &str, &str)] = &[
    (
        "get_presence_state single channel",
        "did not match any variant of untagged enum GetStateResponseBody",
        "SDK divergence: pubnub 0.9.0 parses get-state bodies only as `payload.channels` \
         (GetStateSuccessBody); the recorded single-channel shape has the state object as \
         `payload` (PROTOCOL.md §4.6), so the SDK cannot parse the real service's answer either",
    ),
    (
        "channel group name with ' ' and '/'",
        "channel-group given to the transport already percent-encoded",
        "SDK divergence: pubnub 0.9.0 percent-encodes each group name into the `channel-group` \
         value (url_encoded_channel_groups) and its reqwest transport encodes every query value \
         again, so `g 1` goes out as `g%25201`; the server decodes once and sees a group \
         named `g%201`. Group names made of A-Z a-z 0-9 - _ . , ~ etc. are unaffected",
    ),
];

macro_rules! ensure_eq {
    ($actual:expr, $expected:expr, $what:expr) => {{
        let (a, e) = (&$actual, &$expected);
        if a != e {
            return Err(format!("{}: expected {:?}, got {:?}", $what, e, a).into());
        }
    }};
}

#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
    xfailed: usize,
}

impl Tally {
    async fn check<F>(&mut self, name: &str, fut: F)
    where
        F: Future<Output = CheckResult>,
    {
        let expected = EXPECTED_FAILURES.iter().find(|(n, _, _)| name.ends_with(n));
        let outcome = fut.await;
        match (outcome, expected) {
            (Ok(()), None) => {
                self.passed += 1;
                println!("PASS  rust/{name}");
            }
            (Ok(()), Some((_, _, r))) => {
                self.failed += 1;
                println!("FAIL  rust/{name}: passed but is listed as an expected failure ({r})");
            }
            (Err(e), None) => {
                self.failed += 1;
                println!("FAIL  rust/{name}: {e}");
            }
            (Err(e), Some((_, text, r))) if e.to_string().contains(text) => {
                self.xfailed += 1;
                println!("XFAIL rust/{name}: {e} (expected: {r})");
            }
            (Err(e), Some((_, text, _))) => {
                self.failed += 1;
                println!("FAIL  rust/{name}: {e} (listed as an expected failure, but with an error containing {text:?})");
            }
        }
    }
}

/// The SDK's reqwest transport, remembering the last request it was given (after the
/// SDK's middleware added `timestamp` and `signature`).
#[derive(Clone)]
struct Recording {
    inner: Arc<TransportReqwest>,
    last: Arc<Mutex<Option<TransportRequest>>>,
}

impl Recording {
    fn new(origin: &str) -> Self {
        let mut inner = TransportReqwest::new();
        inner.set_hostname(origin);
        Recording {
            inner: Arc::new(inner),
            last: Arc::default(),
        }
    }

    fn last(&self) -> Option<TransportRequest> {
        self.last.lock().unwrap().clone()
    }
}

#[async_trait]
impl Transport for Recording {
    async fn send(&self, req: TransportRequest) -> Result<TransportResponse, PubNubError> {
        *self.last.lock().unwrap() = Some(req.clone());
        self.inner.send(req).await
    }
}

#[derive(Clone)]
struct Keys {
    label: &'static str,
    sub: String,
    publish: Option<String>,
    secret: Option<String>,
}

fn client(
    origin: &str,
    keys: &Keys,
    user_id: &str,
    secret: Option<&str>,
) -> Result<(Client, Recording), BoxError> {
    let transport = Recording::new(origin);
    let client = PubNubClientBuilder::with_transport(transport.clone())
        .with_keyset(Keyset {
            subscribe_key: keys.sub.clone(),
            publish_key: keys.publish.clone(),
            secret_key: secret.map(str::to_owned).or_else(|| keys.secret.clone()),
        })
        .with_user_id(user_id)
        .build()?;
    Ok((client, transport))
}

// ---- PROTOCOL.md §6, strict, for the raw registry requests and the signature comparison

/// Everything but `A-Z a-z 0-9 - _ .` is encoded.
const STRICT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

/// The `pubnub` crate's `PUBNUB_SET` (`url::USERINFO` + `+ % ! $`): leaves `, & ' ( ) * ~` raw.
const RUST_SDK: &AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'?')
    .add(b'{')
    .add(b'}')
    .add(b'/')
    .add(b':')
    .add(b';')
    .add(b'=')
    .add(b'@')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'|')
    .add(b'+')
    .add(b'%')
    .add(b'!')
    .add(b'$');

fn canonical_query(params: &HashMap<String, String>, set: &'static AsciiSet) -> String {
    let mut pairs: Vec<String> = params
        .iter()
        .filter(|(k, _)| k.as_str() != "signature")
        .map(|(k, v)| format!("{k}={}", percent_encode(v.as_bytes(), set)))
        .collect();
    pairs.sort_unstable();
    pairs.join("&")
}

fn sign_v2(secret: &str, publish_key: &str, path: &str, canonical: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key size");
    mac.update(format!("GET\n{publish_key}\n{path}\n{canonical}\n").as_bytes());
    format!("v2.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

/// A channel-registry request (the SDK has no API for it) through the SDK's transport.
async fn registry(
    transport: &Recording,
    keys: &Keys,
    group: &str,
    remove_group: bool,
    params: &[(&str, &str)],
) -> Result<Value, BoxError> {
    let path = format!(
        "/v1/channel-registration/sub-key/{}/channel-group/{}{}",
        percent_encode(keys.sub.as_bytes(), STRICT),
        percent_encode(group.as_bytes(), STRICT),
        if remove_group { "/remove" } else { "" }
    );
    let mut query: HashMap<String, String> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    query.insert("uuid".into(), "rs-registry".into());
    if let Some(secret) = &keys.secret {
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs();
        query.insert("timestamp".into(), ts.to_string());
        let sig = sign_v2(
            secret,
            keys.publish.as_deref().unwrap_or(""),
            &path,
            &canonical_query(&query, STRICT),
        );
        query.insert("signature".into(), sig);
    }
    let resp = transport
        .inner
        .send(TransportRequest {
            path,
            query_parameters: query,
            method: TransportMethod::Get,
            ..Default::default()
        })
        .await?;
    let body: Value = serde_json::from_slice(resp.body.as_deref().unwrap_or_default())?;
    if resp.status != 200 || body["error"] != json!(false) {
        return Err(format!("registry answered {}: {body}", resp.status).into());
    }
    Ok(body)
}

// ---- result helpers

/// A here-now channel as (occupancy, sorted user ids, user id → state).
type ChannelView = (u32, Vec<String>, BTreeMap<String, Option<Value>>);

fn channel_map(r: &HereNowResult) -> BTreeMap<String, ChannelView> {
    r.channels
        .iter()
        .map(|c| {
            let mut ids: Vec<String> = c.occupants.iter().map(|o| o.user_id.clone()).collect();
            ids.sort();
            let states = c
                .occupants
                .iter()
                .map(|o| (o.user_id.clone(), o.state.clone()))
                .collect();
            (c.name.clone(), (c.occupancy, ids, states))
        })
        .collect()
}

fn sorted<S: AsRef<str>>(v: &[S]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.as_ref().to_owned()).collect();
    v.sort();
    v
}

fn ser(v: &Value) -> Result<Vec<u8>, BoxError> {
    Ok(serde_json::to_vec(v)?)
}

fn api_status(e: &PubNubError) -> Option<u16> {
    match e {
        PubNubError::API { status, .. } => Some(*status),
        _ => None,
    }
}

async fn scenario(t: &mut Tally, origin: &str, keys: &Keys, run: &str) -> Result<(), BoxError> {
    let l = keys.label;
    let p = format!("rs-{l}-{run}");
    // Names that need percent-encoding (space, slash, non-ASCII, '#', '@'). No ',' or
    // '&' in names: the crate leaves them raw (PROTOCOL.md §10.5).
    let lobby = format!("{p}-lobby");
    let room = format!("{p} room/ü");
    let annex = format!("{p}-annex#1");
    let grp = format!("{p}-grp");
    let (alice_id, bob_id, carol_id) = (
        format!("{p}-alice"),
        format!("{p} bob"),
        format!("{p}-carol@x"),
    );
    let (alice, alice_t) = client(origin, keys, &alice_id, None)?;
    let (bob, _) = client(origin, keys, &bob_id, None)?;
    let (carol, _) = client(origin, keys, &carol_id, None)?;

    // --- channel group set-up (raw registry requests) ----------------------------------
    t.check(
        &format!("{l}: channel group set-up (raw registry request via the SDK transport)"),
        async {
            let joined = format!("{room},{annex}");
            registry(&alice_t, keys, &grp, false, &[("add", joined.as_str())]).await?;
            let listed = registry(&alice_t, keys, &grp, false, &[]).await?;
            let chans: Vec<String> = serde_json::from_value(listed["payload"]["channels"].clone())?;
            ensure_eq!(sorted(&chans), sorted(&[&room, &annex]), "group channels");
            Ok(())
        },
    )
    .await;

    // --- heartbeat ---------------------------------------------------------------------
    let mood = json!({"mood": "ok", "n": 1});
    t.check(
        &format!("{l}: heartbeat channel with state (keyed by channel)"),
        async {
            alice
                .heartbeat()
                .channels([lobby.clone()])
                .state(HashMap::from([(lobby.clone(), ser(&mood)?)]))
                .execute()
                .await?;
            Ok(())
        },
    )
    .await;
    t.check(&format!("{l}: heartbeat two channels"), async {
        bob.heartbeat()
            .channels([lobby.clone(), room.clone()])
            .execute()
            .await?;
        Ok(())
    })
    .await;
    t.check(&format!("{l}: heartbeat channel group"), async {
        carol
            .heartbeat()
            .channel_groups([grp.clone()])
            .execute()
            .await?;
        Ok(())
    })
    .await;

    // --- here now ----------------------------------------------------------------------
    t.check(&format!("{l}: here_now single channel"), async {
        let r = alice.here_now().channels([lobby.clone()]).execute().await?;
        ensure_eq!((r.total_channels, r.total_occupancy), (1, 2), "totals");
        let m = channel_map(&r);
        ensure_eq!(
            m.keys().cloned().collect::<Vec<_>>(),
            vec![lobby.clone()],
            "channel names"
        );
        ensure_eq!(m[&lobby].0, 2, "occupancy");
        ensure_eq!(m[&lobby].1, sorted(&[&alice_id, &bob_id]), "user ids");
        Ok(())
    })
    .await;
    t.check(
        &format!("{l}: here_now single channel include_state"),
        async {
            let r = bob
                .here_now()
                .channels([lobby.clone()])
                .include_state(true)
                .execute()
                .await?;
            let m = channel_map(&r);
            let expected = BTreeMap::from([
                (alice_id.clone(), Some(mood.clone())),
                (bob_id.clone(), None),
            ]);
            ensure_eq!(m[&lobby].2, expected, "states");
            Ok(())
        },
    )
    .await;
    t.check(
        &format!("{l}: here_now single channel include_user_id(false)"),
        async {
            let r = alice
                .here_now()
                .channels([lobby.clone()])
                .include_user_id(false)
                .execute()
                .await?;
            ensure_eq!(r.total_occupancy, 2, "total_occupancy");
            ensure_eq!(r.channels.len(), 1, "channels");
            ensure_eq!(r.channels[0].occupancy, 2, "occupancy");
            ensure_eq!(r.channels[0].occupants.len(), 0, "occupants");
            Ok(())
        },
    )
    .await;
    t.check(&format!("{l}: here_now multiple channels"), async {
        let r = alice
            .here_now()
            .channels([lobby.clone(), room.clone()])
            .execute()
            .await?;
        ensure_eq!((r.total_channels, r.total_occupancy), (2, 4), "totals");
        let m = channel_map(&r);
        ensure_eq!(m[&lobby].1, sorted(&[&alice_id, &bob_id]), "lobby user ids");
        ensure_eq!(
            (m[&room].0, m[&room].1.clone()),
            (2, sorted(&[&bob_id, &carol_id])),
            "room"
        );
        Ok(())
    })
    .await;
    t.check(
        &format!("{l}: here_now multiple channels include_state"),
        async {
            let r = alice
                .here_now()
                .channels([lobby.clone(), room.clone()])
                .include_state(true)
                .execute()
                .await?;
            let m = channel_map(&r);
            let lobby_states = BTreeMap::from([
                (alice_id.clone(), Some(mood.clone())),
                (bob_id.clone(), None),
            ]);
            ensure_eq!(m[&lobby].2, lobby_states, "lobby states");
            ensure_eq!(
                m[&room].2,
                BTreeMap::from([(bob_id.clone(), None), (carol_id.clone(), None)]),
                "room states"
            );
            Ok(())
        },
    )
    .await;
    t.check(
        &format!("{l}: here_now multiple channels include_user_id(false)"),
        async {
            let r = alice
                .here_now()
                .channels([lobby.clone(), room.clone()])
                .include_user_id(false)
                .execute()
                .await?;
            let m = channel_map(&r);
            ensure_eq!((m[&lobby].0, m[&room].0), (2, 2), "occupancies");
            ensure_eq!((m[&lobby].1.len(), m[&room].1.len()), (0, 0), "occupants");
            Ok(())
        },
    )
    .await;
    t.check(&format!("{l}: here_now channel group"), async {
        let r = alice
            .here_now()
            .channel_groups([grp.clone()])
            .execute()
            .await?;
        ensure_eq!((r.total_channels, r.total_occupancy), (2, 3), "totals");
        let m = channel_map(&r);
        ensure_eq!(m[&room].1, sorted(&[&bob_id, &carol_id]), "room user ids");
        ensure_eq!(m[&annex].1, vec![carol_id.clone()], "annex user ids");
        Ok(())
    })
    .await;
    t.check(
        &format!("{l}: here_now two channels + channel group"),
        async {
            let r = alice
                .here_now()
                .channels([lobby.clone(), room.clone()])
                .channel_groups([grp.clone()])
                .execute()
                .await?;
            ensure_eq!((r.total_channels, r.total_occupancy), (3, 5), "totals");
            let m = channel_map(&r);
            ensure_eq!(
                m.keys().cloned().collect::<Vec<_>>(),
                sorted(&[&lobby, &room, &annex]),
                "channels"
            );
            ensure_eq!(
                (m[&lobby].0, m[&room].0, m[&annex].0),
                (2, 2, 1),
                "occupancies"
            );
            Ok(())
        },
    )
    .await;
    // With exactly one channel, pubnub 0.9.0's async `execute` overwrites the name of
    // `channels[0]` with the requested channel even when the answer has several channels
    // (channel + group: multi shape), and that entry comes from a HashMap, so a random
    // channel gets renamed. Names are not checked here (README: SDK divergences).
    t.check(
        &format!("{l}: here_now one channel + channel group (names not checked)"),
        async {
            let r = alice
                .here_now()
                .channels([lobby.clone()])
                .channel_groups([grp.clone()])
                .execute()
                .await?;
            ensure_eq!((r.total_channels, r.total_occupancy), (3, 5), "totals");
            let mut groups: Vec<(u32, Vec<String>)> = r
                .channels
                .iter()
                .map(|c| {
                    (
                        c.occupancy,
                        sorted(
                            &c.occupants
                                .iter()
                                .map(|o| o.user_id.clone())
                                .collect::<Vec<_>>(),
                        ),
                    )
                })
                .collect();
            groups.sort();
            let mut expected = vec![
                (2, sorted(&[&alice_id, &bob_id])),
                (2, sorted(&[&bob_id, &carol_id])),
                (1, vec![carol_id.clone()]),
            ];
            expected.sort();
            ensure_eq!(groups, expected, "occupancy and user ids per channel");
            Ok(())
        },
    )
    .await;
    t.check(&format!("{l}: here_now limit/offset"), async {
        let page = |offset: usize| {
            alice
                .here_now()
                .channels([lobby.clone()])
                .limit(1usize)
                .offset(offset)
                .execute()
        };
        let (r0, r1) = (page(0).await?, page(1).await?);
        ensure_eq!(
            (r0.total_occupancy, r1.total_occupancy),
            (2, 2),
            "totals count everyone"
        );
        ensure_eq!(
            (
                r0.channels[0].occupants.len(),
                r1.channels[0].occupants.len()
            ),
            (1, 1),
            "page sizes"
        );
        let both = sorted(&[
            &r0.channels[0].occupants[0].user_id,
            &r1.channels[0].occupants[0].user_id,
        ]);
        ensure_eq!(
            both,
            sorted(&[&alice_id, &bob_id]),
            "two pages give both user ids"
        );
        Ok(())
    })
    .await;

    // --- where now ---------------------------------------------------------------------
    t.check(&format!("{l}: where_now self"), async {
        let r = alice.where_now().execute().await?;
        ensure_eq!(sorted(&r.channels), vec![lobby.clone()], "alice's channels");
        Ok(())
    })
    .await;
    t.check(&format!("{l}: where_now other user_id"), async {
        let r = alice.where_now().user_id(bob_id.clone()).execute().await?;
        ensure_eq!(
            sorted(&r.channels),
            sorted(&[&lobby, &room]),
            "bob's channels"
        );
        let r = alice
            .where_now()
            .user_id(carol_id.clone())
            .execute()
            .await?;
        ensure_eq!(
            sorted(&r.channels),
            sorted(&[&room, &annex]),
            "carol's channels"
        );
        let r = alice
            .where_now()
            .user_id(format!("{p}-nobody"))
            .execute()
            .await?;
        ensure_eq!(r.channels.len(), 0, "nobody's channels");
        Ok(())
    })
    .await;

    // --- set / get state ---------------------------------------------------------------
    let alice_state = json!({"age": 30, "name": "Alice A", "tags": ["x", "y"], "ok": true});
    let bob_state = json!({"level": 7, "motto": "a b=c? d+e"});
    let carol_state = json!({"role": "mod"});
    let echo = |v: &Value| format!("SetStateResult {{ state: {v:?} }}");

    t.check(&format!("{l}: set_presence_state single channel"), async {
        let r = alice
            .set_presence_state(alice_state.clone())
            .channels([lobby.clone()])
            .execute()
            .await?;
        ensure_eq!(format!("{r:?}"), echo(&alice_state), "echoed state");
        Ok(())
    })
    .await;
    t.check(&format!("{l}: get_presence_state single channel"), async {
        let r = alice
            .get_presence_state()
            .channels([lobby.clone()])
            .execute()
            .await?;
        let got: BTreeMap<_, _> = r
            .iter()
            .map(|s| (s.channel.clone(), s.state.clone()))
            .collect();
        ensure_eq!(
            got,
            BTreeMap::from([(lobby.clone(), alice_state.clone())]),
            "states"
        );
        Ok(())
    })
    .await;
    t.check(
        &format!("{l}: set_presence_state multiple channels"),
        async {
            let r = bob
                .set_presence_state(bob_state.clone())
                .channels([lobby.clone(), room.clone()])
                .execute()
                .await?;
            ensure_eq!(format!("{r:?}"), echo(&bob_state), "echoed state");
            Ok(())
        },
    )
    .await;
    t.check(
        &format!("{l}: get_presence_state multiple channels, other user_id"),
        async {
            let r = alice
                .get_presence_state()
                .channels([lobby.clone(), room.clone()])
                .user_id(bob_id.clone())
                .execute()
                .await?;
            let got: BTreeMap<_, _> = r
                .iter()
                .map(|s| (s.channel.clone(), s.state.clone()))
                .collect();
            let expected = BTreeMap::from([
                (lobby.clone(), bob_state.clone()),
                (room.clone(), bob_state.clone()),
            ]);
            ensure_eq!(got, expected, "bob's states");
            Ok(())
        },
    )
    .await;
    t.check(
        &format!("{l}: set_presence_state channel group only"),
        async {
            let r = carol
                .set_presence_state(carol_state.clone())
                .channel_groups([grp.clone()])
                .execute()
                .await?;
            ensure_eq!(format!("{r:?}"), echo(&carol_state), "echoed state");
            Ok(())
        },
    )
    .await;
    t.check(
        &format!("{l}: get_presence_state channel group, other user_id"),
        async {
            let r = alice
                .get_presence_state()
                .channel_groups([grp.clone()])
                .user_id(carol_id.clone())
                .execute()
                .await?;
            let got: BTreeMap<_, _> = r
                .iter()
                .map(|s| (s.channel.clone(), s.state.clone()))
                .collect();
            let expected = BTreeMap::from([
                (room.clone(), carol_state.clone()),
                (annex.clone(), carol_state.clone()),
            ]);
            ensure_eq!(got, expected, "carol's states");
            Ok(())
        },
    )
    .await;
    let bob_lobby = json!({"level": 8});
    t.check(
        &format!("{l}: set_presence_state for other user_id"),
        async {
            alice
                .set_presence_state(bob_lobby.clone())
                .channels([lobby.clone()])
                .user_id(bob_id.clone())
                .execute()
                .await?;
            let r = carol
                .get_presence_state()
                .channels([lobby.clone(), room.clone()])
                .user_id(bob_id.clone())
                .execute()
                .await?;
            let got: BTreeMap<_, _> = r
                .iter()
                .map(|s| (s.channel.clone(), s.state.clone()))
                .collect();
            let expected = BTreeMap::from([
                (lobby.clone(), bob_lobby.clone()),
                (room.clone(), bob_state.clone()),
            ]);
            ensure_eq!(got, expected, "bob's states");
            Ok(())
        },
    )
    .await;
    let hb_state = json!({"typing": true});
    t.check(&format!("{l}: set_presence_state_with_heartbeat"), async {
        alice
            .set_presence_state_with_heartbeat(HashMap::from([(lobby.clone(), hb_state.clone())]))
            .channels([lobby.clone()])
            .execute()
            .await?;
        let r = bob
            .here_now()
            .channels([lobby.clone(), room.clone()])
            .include_state(true)
            .execute()
            .await?;
        let m = channel_map(&r);
        let lobby_states = BTreeMap::from([
            (alice_id.clone(), Some(hb_state.clone())),
            (bob_id.clone(), Some(bob_lobby.clone())),
        ]);
        ensure_eq!(m[&lobby].2, lobby_states, "lobby states");
        let room_states = BTreeMap::from([
            (bob_id.clone(), Some(bob_state.clone())),
            (carol_id.clone(), Some(carol_state.clone())),
        ]);
        ensure_eq!(m[&room].2, room_states, "room states");
        Ok(())
    })
    .await;

    // --- leave -------------------------------------------------------------------------
    t.check(&format!("{l}: leave channel"), async {
        bob.leave().channels([room.clone()]).execute().await?;
        let r = alice.where_now().user_id(bob_id.clone()).execute().await?;
        ensure_eq!(sorted(&r.channels), vec![lobby.clone()], "bob's channels");
        let r = alice.here_now().channels([room.clone()]).execute().await?;
        let m = channel_map(&r);
        ensure_eq!(
            (m[&room].0, m[&room].1.clone()),
            (1, vec![carol_id.clone()]),
            "room"
        );
        Ok(())
    })
    .await;
    t.check(&format!("{l}: leave channel group"), async {
        carol
            .leave()
            .channel_groups([grp.clone()])
            .execute()
            .await?;
        let r = alice
            .where_now()
            .user_id(carol_id.clone())
            .execute()
            .await?;
        ensure_eq!(r.channels.len(), 0, "carol's channels");
        let r = alice
            .here_now()
            .channel_groups([grp.clone()])
            .execute()
            .await?;
        ensure_eq!(r.total_occupancy, 0, "group occupancy");
        Ok(())
    })
    .await;
    t.check(&format!("{l}: leave last occupants"), async {
        alice.leave().channels([lobby.clone()]).execute().await?;
        bob.leave().channels([lobby.clone()]).execute().await?;
        let r = alice.here_now().channels([lobby.clone()]).execute().await?;
        ensure_eq!(r.total_occupancy, 0, "lobby occupancy");
        Ok(())
    })
    .await;

    // --- channel group teardown --------------------------------------------------------
    t.check(
        &format!("{l}: channel group teardown (raw registry request)"),
        async {
            registry(&alice_t, keys, &grp, false, &[("remove", annex.as_str())]).await?;
            let listed = registry(&alice_t, keys, &grp, false, &[]).await?;
            ensure_eq!(
                listed["payload"]["channels"],
                json!([room]),
                "group channels"
            );
            registry(&alice_t, keys, &grp, true, &[]).await?;
            let listed = registry(&alice_t, keys, &grp, false, &[]).await?;
            ensure_eq!(listed["payload"]["channels"], json!([]), "group channels");
            Ok(())
        },
    )
    .await;
    Ok(())
}

/// The crate signs with its lenient encoding; show that the emulator accepts such a
/// request although its strict §6 signature differs, and that bad signatures get 403.
async fn signing(t: &mut Tally, origin: &str, keys: &Keys, run: &str) -> Result<(), BoxError> {
    let p = format!("rs-sig-{run}");
    let (c, transport) = client(origin, keys, &format!("{p}-u"), None)?;
    let (g1, g2) = (format!("{p}-g1"), format!("{p}-g2"));
    let ch = format!("{p}-ch");
    t.check("signed: lenient SDK signature (',' and '*' unencoded) is accepted", async {
        registry(&transport, keys, &g1, false, &[("add", ch.as_str())]).await?;
        registry(&transport, keys, &g2, false, &[("add", ch.as_str())]).await?;
        c.heartbeat()
            .channels([ch.clone()])
            .channel_groups([g1.clone(), g2.clone()])
            .state(HashMap::from([(ch.clone(), ser(&json!({"a": 1, "b": "x*y"}))?)]))
            .execute()
            .await?;
        let req = transport.last().ok_or("no request recorded")?;
        let secret = keys.secret.as_deref().unwrap_or_default();
        let publish = keys.publish.as_deref().unwrap_or_default();
        let sent = req.query_parameters.get("signature").cloned().unwrap_or_default();
        let lenient = canonical_query(&req.query_parameters, RUST_SDK);
        let strict = canonical_query(&req.query_parameters, STRICT);
        ensure_eq!(sent, sign_v2(secret, publish, &req.path, &lenient), "SDK signature = lenient canonical query");
        if sign_v2(secret, publish, &req.path, &strict) == sent {
            return Err("the strict §6 signature equals the SDK's: the request does not show the divergence".into());
        }
        println!("NOTE  rust/signed: path          {}", req.path);
        println!("NOTE  rust/signed: SDK signs     {lenient}");
        println!("NOTE  rust/signed: §6 strict is  {strict}");
        let r = c.here_now().channel_groups([g1.clone(), g2.clone()]).execute().await?;
        ensure_eq!(r.total_occupancy, 1, "group occupancy after the signed heartbeat");
        c.leave().channels([ch.clone()]).execute().await?;
        registry(&transport, keys, &g1, true, &[]).await?;
        registry(&transport, keys, &g2, true, &[]).await?;
        Ok(())
    })
    .await;
    let spaced = format!("{p} g/1");
    t.check("signed: channel group name with ' ' and '/'", async {
        registry(&transport, keys, &spaced, false, &[("add", ch.as_str())]).await?;
        c.heartbeat().channel_groups([spaced.clone()]).execute().await?;
        let req = transport.last().ok_or("no request recorded")?;
        let r = c.here_now().channels([ch.clone()]).execute().await?;
        c.leave().channels([ch.clone()]).execute().await?;
        registry(&transport, keys, &spaced, true, &[]).await?;
        let given = req.query_parameters.get("channel-group").cloned().unwrap_or_default();
        if given != spaced {
            return Err(format!(
                "channel-group given to the transport already percent-encoded: {given:?} \
                 (the transport encodes it again: {:?} on the wire); occupancy after the heartbeat: {}",
                percent_encode(given.as_bytes(), RUST_SDK).to_string(),
                r.total_occupancy
            )
            .into());
        }
        ensure_eq!(r.total_occupancy, 1, "occupancy of the group's channel after a heartbeat on the group");
        Ok(())
    })
    .await;
    t.check("signed: wrong secret key gets 403", async {
        let (bad, _) = client(origin, keys, &format!("{p}-bad"), Some("not-the-secret"))?;
        match bad.here_now().channels([ch.clone()]).execute().await {
            Ok(r) => Err(format!("accepted: {r:?}").into()),
            Err(e) => {
                ensure_eq!(api_status(&e), Some(403), format!("status of {e:?}"));
                Ok(())
            }
        }
    })
    .await;
    t.check("signed: unsigned request gets 403", async {
        let unsigned = Keys {
            secret: None,
            ..keys.clone()
        };
        let (c, _) = client(origin, &unsigned, &format!("{p}-unsigned"), None)?;
        match c.where_now().execute().await {
            Ok(r) => Err(format!("accepted: {r:?}").into()),
            Err(e) => {
                ensure_eq!(api_status(&e), Some(403), format!("status of {e:?}"));
                Ok(())
            }
        }
    })
    .await;
    Ok(())
}

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_owned())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let env_origin = std::env::var("EMULATOR_ORIGIN").unwrap_or_else(|_| "127.0.0.1:8090".into());
    let mut origin = arg(&args, "--origin", &env_origin);
    if !origin.starts_with("http") {
        origin = format!("http://{origin}");
    }
    let plain = arg(&args, "--plain-keyset", "demo-interop");
    let signed = arg(&args, "--signed-keyset", "sub-signed:pub-signed:sec-signed");
    let mut parts = signed.splitn(3, ':').map(str::to_owned);
    let signed = Keys {
        label: "signed",
        sub: parts.next().unwrap_or_default(),
        publish: parts.next(),
        secret: parts.next(),
    };
    let plain = Keys {
        label: "plain",
        sub: plain,
        publish: None,
        secret: None,
    };
    let run = format!("{:08x}", rand_u32());
    println!("rust: pubnub 0.9.0 against {origin}, run {run}");

    let mut t = Tally::default();
    for keys in [&plain, &signed] {
        if let Err(e) = scenario(&mut t, &origin, keys, &run).await {
            t.failed += 1;
            println!("FAIL  rust/{}: set-up: {e}", keys.label);
        }
    }
    if let Err(e) = signing(&mut t, &origin, &signed, &run).await {
        t.failed += 1;
        println!("FAIL  rust/signed: set-up: {e}");
    }
    let unknown = Keys {
        label: "x",
        sub: format!("no-such-key-{run}"),
        publish: None,
        secret: None,
    };
    t.check("plain: unknown subscribe key: here_now gets 400", async {
        let (c, _) = client(&origin, &unknown, "rs-x", None)?;
        match c.here_now().channels(["a".to_string()]).execute().await {
            Ok(r) => Err(format!("accepted: {r:?}").into()),
            Err(e) => {
                ensure_eq!(api_status(&e), Some(400), format!("status of {e}"));
                Ok(())
            }
        }
    })
    .await;
    t.check("plain: unknown subscribe key: heartbeat fails", async {
        let (c, _) = client(&origin, &unknown, "rs-x", None)?;
        match c.heartbeat().channels(["a".to_string()]).execute().await {
            Ok(r) => Err(format!("heartbeat succeeded: {r:?}").into()),
            Err(e) => {
                ensure_eq!(api_status(&e), Some(400), format!("status of {e}"));
                Ok(())
            }
        }
    })
    .await;

    let xf = if t.xfailed > 0 {
        format!(", {} xfailed", t.xfailed)
    } else {
        String::new()
    };
    println!("rust: {} passed, {} failed{xf}", t.passed, t.failed);
    if t.failed > 0 {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}

/// A run id without another dependency: the low bits of the clock and the pid.
fn rand_u32() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    nanos ^ std::process::id().rotate_left(16)
}
