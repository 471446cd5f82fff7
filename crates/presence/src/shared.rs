//! What the async and blocking clients share: configuration, the real clock and request
//! ids for [`RequestMeta`], and the per-request tracing span.

use presence_core::{Config, HttpRequest, Operation, RequestMeta};
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Configuration plus the facade's own settings.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) request_ids: bool,
    /// The executor of the async loops, when not the current tokio runtime.
    pub(crate) runtime: Option<crate::runtime::Configured>,
    counter: AtomicU64,
    /// Per-client random key of [`random_u64`](Self::random_u64).
    seed: u64,
}

impl Shared {
    pub(crate) fn new(config: Config, request_ids: bool) -> Self {
        Self {
            config,
            request_ids,
            runtime: None,
            counter: AtomicU64::new(0),
            // std's per-process random hasher keys, fresh per client.
            seed: RandomState::new().build_hasher().finish(),
        }
    }

    /// Unix seconds from the real clock (the core never reads it).
    pub(crate) fn unix_now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }

    /// A random 64-bit value: SplitMix64 over a per-client random key plus a counter.
    /// Its finaliser is a bijection, so values never repeat within a client (2^64
    /// calls), and one call is a handful of instructions (a SipHash per value cost
    /// ~700 per request id).
    pub(crate) fn random_u64(&self) -> u64 {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut z = self
            .seed
            .wrapping_add(n.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A UUID v4-shaped request id (`xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx`),
    /// written into a byte array, then copied into its one allocation.
    fn request_id(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let (a, b) = (self.random_u64(), self.random_u64());
        // Version 4 in the 13th digit, the variant bits `10` in the 17th.
        let a = (a & !0xf000) | 0x4000;
        let b = (b & !(0xc << 60)) | (0x8 << 60);
        // Where each hex digit goes: the dashes are at 8, 13, 18 and 23.
        const AT: [u8; 32] = {
            let mut at = [0u8; 32];
            let mut i = 0;
            while i < 32 {
                at[i] = (i
                    + (i >= 8) as usize
                    + (i >= 12) as usize
                    + (i >= 16) as usize
                    + (i >= 20) as usize) as u8;
                i += 1;
            }
            at
        };
        let mut id = [b'-'; 36];
        for (i, &at) in AT.iter().enumerate() {
            let word = if i < 16 { a } else { b };
            id[usize::from(at)] = HEX[((word >> (60 - 4 * (i % 16))) & 0xf) as usize];
        }
        // Hex digits and dashes only: always UTF-8.
        std::str::from_utf8(&id).unwrap_or_default().to_owned()
    }

    pub(crate) fn meta(&self) -> RequestMeta {
        let meta = RequestMeta::new(Self::unix_now());
        if self.request_ids {
            meta.with_request_id(self.request_id())
        } else {
            meta
        }
    }

    pub(crate) fn prepare<O: Operation>(
        &self,
        op: &O,
    ) -> Result<HttpRequest, presence_core::Error> {
        op.to_request(&self.config, &self.meta())
    }
}

/// A span per request: operation, channel count, then status and latency. Never the URI
/// (it carries the auth token) and never a key.
pub(crate) struct RequestSpan {
    span: tracing::Span,
    /// When the span is enabled (a subscriber wants it): the latency is measured only
    /// then, and nothing is recorded on a disabled span.
    started: Option<Instant>,
}

impl RequestSpan {
    pub(crate) fn new<O: Operation>(op: &O) -> Self {
        let span = tracing::debug_span!(
            "presence.request",
            operation = O::NAME,
            channels = op.channel_count(),
            status = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        );
        let started = (!span.is_disabled()).then(Instant::now);
        Self { span, started }
    }

    pub(crate) fn span(&self) -> &tracing::Span {
        &self.span
    }

    pub(crate) fn finish(&self, status: Option<u16>, outcome: &str) {
        let Some(started) = self.started else {
            return;
        };
        let latency = started.elapsed().as_secs_f64() * 1000.0;
        if let Some(status) = status {
            self.span.record("status", status);
        }
        self.span.record("latency_ms", latency);
        let _enter = self.span.enter();
        tracing::debug!(outcome, "presence request finished");
    }
}

/// What a client holds: configuration and facade settings, and its transport.
pub(crate) struct Inner<T> {
    pub(crate) shared: Shared,
    pub(crate) transport: T,
}

/// Declares a client type `Client<T>` (with `$default` as its default transport when
/// `$feature` is on), its `Clone` (clones share everything), its `Debug` (the
/// configuration, secrets redacted) and `from_shared`: what both clients are alike in.
macro_rules! client_type {
    ($(#[$doc:meta])* feature = $feature:literal, default = $default:ty, debug = $name:literal) => {
        $(#[$doc])*
        #[cfg(feature = $feature)]
        pub struct Client<T = $default> {
            pub(crate) inner: std::sync::Arc<crate::shared::Inner<T>>,
        }

        $(#[$doc])*
        #[doc = concat!("\n\n(Enable the `", $feature, "` feature for a default transport.)")]
        #[cfg(not(feature = $feature))]
        pub struct Client<T> {
            pub(crate) inner: std::sync::Arc<crate::shared::Inner<T>>,
        }

        impl<T> Clone for Client<T> {
            fn clone(&self) -> Self {
                Self {
                    inner: std::sync::Arc::clone(&self.inner),
                }
            }
        }

        impl<T> std::fmt::Debug for Client<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct($name)
                    .field("config", &self.inner.shared.config)
                    .finish_non_exhaustive()
            }
        }

        impl<T> Client<T> {
            pub(crate) fn from_shared(shared: Shared, transport: T) -> Self {
                Self {
                    inner: std::sync::Arc::new(crate::shared::Inner { shared, transport }),
                }
            }
        }
    };
}
pub(crate) use client_type;

/// What a loop hands its engine for one request: the response, or why there is none.
pub(crate) type Answer = Result<http::Response<Vec<u8>>, presence_core::Failure>;

/// An answer with the engine's id of its request (what the async loops' tasks send
/// back to their loop).
#[cfg(feature = "async-loops")]
pub(crate) type Done = (presence_core::RequestId, Answer);

/// Turns a facade result into what the engines take: the response, or a classified failure.
pub(crate) fn classify<E: crate::transport::TransportError>(
    result: Result<http::Response<Vec<u8>>, crate::Error<E>>,
) -> Answer {
    result.map_err(|e| e.to_failure())
}

/// A handle method taking channels and groups and sending `$variant(channels, groups)`
/// to its loop with `self.send`.
macro_rules! lists_input {
    ($(#[$doc:meta])* $name:ident => $variant:path) => {
        $(#[$doc])*
        pub fn $name<C, G, S, U>(&self, channels: C, groups: G)
        where
            C: IntoIterator<Item = S>,
            G: IntoIterator<Item = U>,
            S: Into<String>,
            U: Into<String>,
        {
            self.send($variant(
                crate::shared::collect(channels),
                crate::shared::collect(groups),
            ));
        }
    };
}
pub(crate) use lists_input;

/// A builder's `channels` and `channel_groups` setters, each adding to its list
/// (`self.channels`, `self.groups`), with the builder's own docs.
macro_rules! target_setters {
    (channels: $channels:literal, groups: $groups:literal) => {
        #[doc = $channels]
        pub fn channels<I: IntoIterator<Item = S>, S: Into<String>>(mut self, channels: I) -> Self {
            self.channels.extend(channels.into_iter().map(Into::into));
            self
        }

        #[doc = $groups]
        pub fn channel_groups<I: IntoIterator<Item = S>, S: Into<String>>(
            mut self,
            groups: I,
        ) -> Self {
            self.groups.extend(groups.into_iter().map(Into::into));
            self
        }
    };
}
pub(crate) use target_setters;

/// Collects names into owned strings.
pub(crate) fn collect<I: IntoIterator<Item = S>, S: Into<String>>(names: I) -> Vec<String> {
    names.into_iter().map(Into::into).collect()
}

/// The operation constructors both clients offer: each a core operation bound to the
/// client, whose setters are the core's and which ends in `execute()`.
macro_rules! operations {
    () => {
        /// Who is present on channels or groups, or on the whole keyset.
        pub fn here_now(&self) -> HereNow<&Self> {
            HereNow::with_client(self)
        }

        /// Where a user is present (the configured user unless `.user_id(…)`).
        pub fn where_now(&self) -> WhereNow<&Self> {
            WhereNow::with_client(self)
        }

        /// A single heartbeat (announce). For a heartbeat loop use `presence()`.
        pub fn heartbeat(&self) -> Heartbeat<&Self> {
            Heartbeat::with_client(self)
        }

        /// Leave channels and groups now.
        pub fn leave(&self) -> Leave<&Self> {
            Leave::with_client(self)
        }

        /// Set a user's state (a JSON object).
        pub fn set_state(&self) -> SetState<&Self> {
            SetState::with_client(self)
        }

        /// Get a user's state.
        pub fn get_state(&self) -> GetState<&Self> {
            GetState::with_client(self)
        }

        /// The configuration.
        pub fn config(&self) -> &Config {
            &self.inner.shared.config
        }

        /// The transport.
        pub fn transport(&self) -> &T {
            &self.inner.transport
        }
    };
}
pub(crate) use operations;

impl RequestSpan {
    /// Records a transport outcome on the span and converts it to the facade's result.
    pub(crate) fn outcome<TE>(
        &self,
        sent: Result<http::Response<Vec<u8>>, TE>,
    ) -> Result<http::Response<Vec<u8>>, crate::Error<TE>> {
        match sent {
            Ok(resp) => {
                self.finish(Some(resp.status().as_u16()), "response");
                Ok(resp)
            }
            Err(e) => {
                self.finish(None, "transport_error");
                Err(crate::Error::Transport(e))
            }
        }
    }

    /// Records an invalid-input outcome.
    pub(crate) fn invalid<TE>(&self, e: presence_core::Error) -> crate::Error<TE> {
        self.finish(None, "invalid_input");
        crate::Error::Core(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use presence_core::{Keyset, UserId};

    #[test]
    fn request_ids_look_like_uuid_v4_and_differ() {
        let s = Shared::new(
            Config::new(Keyset::new("k"), UserId::new("u").unwrap()),
            true,
        );
        let (a, b) = (s.request_id(), s.request_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| s.request_id()).collect();
        assert_eq!(ids.len(), 10_000);
        for id in &ids {
            let dashes: Vec<usize> = id.match_indices('-').map(|(i, _)| i).collect();
            assert_eq!(dashes, [8, 13, 18, 23], "{id}");
            assert!(id
                .bytes()
                .all(|b| b == b'-' || b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        }
    }
}
