//! [`Call`]: an operation bound to a client, with the operation's setters and
//! `execute()`. The same chain works on the async and the blocking client.

use presence_core::{
    GetState, Heartbeat, HereNow, Keyset, KeysetChoice, Leave, Operation, SetState, WhereNow,
};
use serde_json::Value;

/// An operation bound to a client. Build it with the client's operation methods
/// (`client.here_now()`, …), chain setters, then call `execute()` (`.await` on the async
/// client).
#[derive(Debug, Clone)]
#[must_use = "a call does nothing until `execute` is called"]
pub struct Call<'c, C, O> {
    pub(crate) client: &'c C,
    pub(crate) op: O,
}

impl<'c, C, O: Operation> Call<'c, C, O> {
    pub(crate) fn new(client: &'c C, op: O) -> Self {
        Self { client, op }
    }

    /// Uses the named keyset from the client's keyset store for this call.
    pub fn using(mut self, name: impl Into<String>) -> Self {
        self.op.options_mut().keyset = KeysetChoice::Named(name.into());
        self
    }

    /// Uses this keyset for this call.
    pub fn keyset(mut self, keyset: Keyset) -> Self {
        self.op.options_mut().keyset = KeysetChoice::Explicit(keyset);
        self
    }

    /// Adds an extra query parameter, encoded and signed like every other value.
    pub fn query_param(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.op.options_mut().query.push((key.into(), value.into()));
        self
    }

    /// The core operation, e.g. to build its request yourself.
    pub fn into_operation(self) -> O {
        self.op
    }
}

macro_rules! names {
    ($($(#[$doc:meta])* $name:ident),*) => {
        $(
            $(#[$doc])*
            pub fn $name<I, S>(mut self, names: I) -> Self
            where
                I: IntoIterator<Item = S>,
                S: Into<String>,
            {
                self.op = self.op.$name(names);
                self
            }
        )*
    };
}

macro_rules! values {
    ($($(#[$doc:meta])* $name:ident($ty:ty)),*) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, value: $ty) -> Self {
                self.op = self.op.$name(value);
                self
            }
        )*
    };
}

impl<C> Call<'_, C, HereNow> {
    names!(
        /// Channels to look at.
        channels,
        /// Channel groups to look at.
        channel_groups
    );
    values!(
        /// Include each occupant's state.
        include_state(bool),
        /// Include user ids (default true).
        include_user_ids(bool),
        /// Occupants per channel, 1..=1000 (default 1000).
        limit(u32),
        /// Occupants to skip per channel.
        offset(u32)
    );
}

impl<C> Call<'_, C, WhereNow> {
    /// Asks about another user.
    pub fn user_id(mut self, user_id: impl Into<String>) -> Self {
        self.op = self.op.user_id(user_id);
        self
    }
}

impl<C> Call<'_, C, Heartbeat> {
    names!(
        /// Channels to announce presence on.
        channels,
        /// Channel groups to announce presence on.
        channel_groups
    );
    values!(
        /// Presence timeout in seconds (at least 20; default 300).
        timeout(u32),
        /// The same state (a JSON object) on every listed channel and group.
        state(Value)
    );

    /// State for one channel or group.
    pub fn channel_state(mut self, name: impl Into<String>, state: Value) -> Self {
        self.op = self.op.channel_state(name, state);
        self
    }
}

impl<C> Call<'_, C, Leave> {
    names!(
        /// Channels to leave.
        channels,
        /// Channel groups to leave.
        channel_groups
    );
}

impl<C> Call<'_, C, SetState> {
    names!(
        /// Channels to set the state on.
        channels,
        /// Channel groups to set the state on.
        channel_groups
    );
    values!(
        /// The state: a JSON object.
        state(Value)
    );

    /// Sets another user's state.
    pub fn user_id(mut self, user_id: impl Into<String>) -> Self {
        self.op = self.op.user_id(user_id);
        self
    }
}

impl<C> Call<'_, C, GetState> {
    names!(
        /// Channels to read the state from.
        channels,
        /// Channel groups to read the state from.
        channel_groups
    );

    /// Reads another user's state.
    pub fn user_id(mut self, user_id: impl Into<String>) -> Self {
        self.op = self.op.user_id(user_id);
        self
    }
}
