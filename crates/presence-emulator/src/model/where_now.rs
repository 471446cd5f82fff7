//! Where now: the channels a user is on (`/v2/presence/sub-key/{sk}/uuid/{uuid}`).

use super::keyset::KeysetState;
use super::params::segment;
use super::Reply;
use crate::body;
use crate::config::Permissions;
use crate::occupants::ChannelSet;
use crate::wire::{Query, Service};
use http::StatusCode;

impl KeysetState {
    /// The channels `raw_uuid` (decoded) is present on, sorted.
    pub(crate) fn where_now(
        &mut self,
        now: u64,
        q: &Query<'_>,
        raw_uuid: &str,
    ) -> Result<Reply, Reply> {
        let svc = Service::Presence;
        let uuid = segment(svc, raw_uuid)?;
        self.check_access(svc, q, Permissions::ALL, (&[], &[]), true)?;
        self.advance_to(now);
        let channels = self
            .users
            .get(uuid.as_str())
            .map(ChannelSet::sorted)
            .unwrap_or_default();
        Ok(body::json(
            StatusCode::OK,
            svc,
            &body::WhereNow {
                status: 200,
                message: "OK",
                payload: body::ChannelsList { channels },
                service: "Presence",
            },
        ))
    }
}
