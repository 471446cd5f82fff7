//! Name resolution only when a new connection is opened.
//!
//! ureq resolves the host before it looks in its connection pool, so every
//! request pays a lookup even when it then reuses a pooled connection and
//! ignores the addresses. With any timeout configured, ureq's
//! `DefaultResolver` runs that lookup on a freshly spawned thread (to be able
//! to give up on it), IP literals included: one thread spawn and join per
//! request. On loopback that made this transport ~4× slower than an agent
//! without timeouts (p50 ~200 µs instead of ~50 µs, p99 ~4 ms).
//!
//! So the agent's [`Resolver`] resolves nothing, and the lookup moves into
//! the first connector of the chain, which ureq runs only when the pool has
//! no idle connection for the `scheme://host:port`. The lookup itself is
//! still ureq's `DefaultResolver` (same address family rules, same thread
//! with a timeout), bounded by the connect timeout of the call (itself capped
//! by the overall timeout); the TCP connect and TLS handshake that follow get
//! what is left of it.
//!
//! This relies on no proxy being configured (the agent sets `proxy(None)`):
//! ureq's CONNECT-proxy connector would ask the resolver for the proxy's
//! address.

use std::time::Instant;

use http::Uri;
use ureq::config::Config;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::time::Duration as UreqDuration;
use ureq::unversioned::transport::{
    ConnectionDetails, Connector, NextTimeout, RustlsConnector, TcpConnector, Transport,
};

use crate::steps::Steps;

/// The system's name lookup failed (the host does not resolve, or no resolver
/// answered): a DNS failure, as a type.
#[derive(Debug)]
pub(crate) struct LookupFailed(std::io::Error);

impl std::fmt::Display for LookupFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "name lookup failed: {}", self.0)
    }
}

impl std::error::Error for LookupFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// The agent's resolver: returns no address, leaving the lookup to
/// [`ResolvingConnector`].
#[derive(Debug, Default)]
pub(crate) struct DeferredResolver;

impl Resolver for DeferredResolver {
    fn resolve(
        &self,
        _uri: &Uri,
        _config: &Config,
        _timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        Ok(self.empty())
    }
}

/// The name lookup that [`DeferredResolver`] skipped, then TCP, socket timeouts in
/// steps ([`Steps`], under TLS: see `steps`) and rustls. ureq's default chain has
/// proxy connectors too (this agent sets no proxy) and a check that the configured
/// TLS provider is compiled in (it is rustls, always).
#[derive(Debug)]
pub(crate) struct ResolvingConnector {
    resolver: DefaultResolver,
    inner: Box<dyn Connector<Out = Box<dyn Transport>>>,
}

impl Default for ResolvingConnector {
    fn default() -> Self {
        let chain =
            ().chain(TcpConnector::default())
                .chain(Steps)
                .chain(RustlsConnector::default())
                .chain(Boxed);
        ResolvingConnector {
            resolver: DefaultResolver::default(),
            inner: Box::new(chain),
        }
    }
}

/// The chain's last link: its transport as a `Box<dyn Transport>`, the type ureq's
/// agent takes.
#[derive(Debug)]
struct Boxed;

impl<In: Transport> Connector<In> for Boxed {
    type Out = Box<dyn Transport>;

    fn connect(
        &self,
        _: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        Ok(chained.map(|t| Box::new(t) as Box<dyn Transport>))
    }
}

impl Connector for ResolvingConnector {
    type Out = Box<dyn Transport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<()>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        if details.addrs.is_empty() {
            self.resolve_and_connect(details, chained)
        } else {
            self.inner.connect(details, chained)
        }
    }
}

impl ResolvingConnector {
    fn resolve_and_connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<()>,
    ) -> Result<Option<Box<dyn Transport>>, ureq::Error> {
        let started = Instant::now();
        let addrs = self
            .resolver
            .resolve(details.uri, details.config, details.timeout)
            .map_err(|e| match e {
                // The only I/O of a resolution is the system's lookup (`getaddrinfo`),
                // whose error std leaves uncategorised: give it a type of its own.
                ureq::Error::Io(io) => ureq::Error::Other(Box::new(LookupFailed(io))),
                other => other,
            })?;
        // The connect budget is measured from `details.now`; what the lookup
        // used is no longer available to the TCP connect and the handshake.
        let after = match details.timeout.after {
            UreqDuration::Exact(budget) => {
                let left = budget.saturating_sub(started.elapsed());
                if left.is_zero() {
                    return Err(ureq::Error::Timeout(details.timeout.reason));
                }
                UreqDuration::Exact(left)
            }
            UreqDuration::NotHappening => UreqDuration::NotHappening,
        };
        let resolved = ConnectionDetails {
            uri: details.uri,
            addrs,
            config: details.config,
            request_level: details.request_level,
            resolver: details.resolver,
            now: (details.current_time)(),
            timeout: NextTimeout {
                after,
                ..details.timeout
            },
            current_time: details.current_time.clone(),
            run_connector: details.run_connector.clone(),
            register_shutdown: details.register_shutdown.clone(),
        };
        self.inner.connect(&resolved, chained)
    }
}
