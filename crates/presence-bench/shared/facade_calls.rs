//! The facade's lobby call (issue 14's comparison), written once for the e2e bench and
//! `prof_call`: both include this file with `#[path]`, as the library does not depend
//! on the facade (bench-peers builds the library too).

/// A boxed call future: `true` when the call read what it should.
pub(crate) type BoxFut = std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>>;

/// `presence::Client` here now on the 10-occupant lobby with state.
pub(crate) fn facade_call(client: &presence::Client) -> BoxFut {
    let client = client.clone();
    Box::pin(async move {
        let now = client.here_now().channels(["lobby"]).include_state(true);
        matches!(now.execute().await, Ok(r) if r.total_occupancy == 10)
    })
}

/// The same call through `presence::blocking::Client`.
pub(crate) fn blocking_call<T: presence::transport::BlockingTransport>(
    client: &presence::blocking::Client<T>,
) -> bool {
    let now = client.here_now().channels(["lobby"]).include_state(true);
    matches!(now.execute(), Ok(r) if r.total_occupancy == 10)
}
