//! The channel-group registry routes (`/v1/channel-registration/sub-key/{sk}/channel-group…`):
//! list the groups, list or change one group's channels, delete a group. The groups
//! themselves live in [`Groups`](super::groups::Groups).

use super::keyset::KeysetState;
use super::params::segment;
use super::Reply;
use crate::body::{self, bad_request};
use crate::config::Permissions;
use crate::wire::{value_list, Query, Service};
use http::StatusCode;

const SVC: Service = Service::ChannelRegistry;

/// The 400 of an `add=` naming more than `max_channels_per_add` channels (our wording:
/// the service's is not recorded).
const TOO_MANY_PER_ADD: &str = "Maximum number of channels per request exceeded";
/// The 400 of an `add=` that would grow a group past `max_group_channels` (our wording).
const GROUP_FULL: &str = "Maximum number of channels in channel group exceeded";

impl KeysetState {
    /// `…/channel-group`: the names of the registered groups.
    pub(crate) fn list_groups(&self, q: &Query<'_>) -> Result<Reply, Reply> {
        self.check_access(SVC, q, Permissions::ALL, (&[], &[]), true)?;
        Ok(body::json(
            StatusCode::OK,
            SVC,
            &body::RegistryList {
                status: 200,
                payload: body::GroupNames {
                    groups: self.groups.names(),
                },
                service: "channel-registry",
                error: false,
            },
        ))
    }

    /// `…/channel-group/{group}`: lists the group's channels, or with `add=` and/or
    /// `remove=` changes them (adds first).
    pub(crate) fn group(&mut self, q: &Query<'_>, raw_group: &str) -> Result<Reply, Reply> {
        let add = q.get("add").map(|v| value_list(Some(v)));
        let remove = q.get("remove").map(|v| value_list(Some(v)));
        let listing = add.is_none() && remove.is_none();
        // Listing reads the group (`read` or `manage`); changing it needs `manage`.
        let needs = if listing {
            Permissions::READ | Permissions::MANAGE
        } else {
            Permissions::MANAGE
        };
        let group = self.admit_group(q, raw_group, needs)?;
        if listing {
            return Ok(body::json(
                StatusCode::OK,
                SVC,
                &body::RegistryList {
                    status: 200,
                    payload: body::GroupChannels {
                        channels: self.groups.channels(&group),
                        group: &group,
                    },
                    service: "channel-registry",
                    error: false,
                },
            ));
        }
        if let Some(add) = add {
            if add.len() > self.tuning.max_channels_per_add {
                return Err(bad_request(SVC, TOO_MANY_PER_ADD));
            }
            if self.groups.size_after_add(&group, &add) > self.tuning.max_group_channels {
                return Err(bad_request(SVC, GROUP_FULL));
            }
            self.groups.add(&group, add);
        }
        if let Some(remove) = remove {
            self.groups.remove(&group, &remove);
        }
        Ok(body::json(StatusCode::OK, SVC, &body::REGISTRY_OK))
    }

    /// `…/channel-group/{group}/remove`: deletes the group.
    pub(crate) fn delete_group(&mut self, q: &Query<'_>, raw_group: &str) -> Result<Reply, Reply> {
        let group = self.admit_group(q, raw_group, Permissions::MANAGE)?;
        self.groups.delete(&group);
        Ok(body::json(StatusCode::OK, SVC, &body::REGISTRY_OK))
    }

    /// The decoded group name of the path, once it is known non-empty and granted one
    /// of the permissions `any_of`.
    fn admit_group(
        &self,
        q: &Query<'_>,
        raw_group: &str,
        any_of: Permissions,
    ) -> Result<String, Reply> {
        let group = segment(SVC, raw_group)?;
        if group.is_empty() {
            return Err(bad_request(SVC, "Missing channel group"));
        }
        self.check_access(SVC, q, any_of, (&[], std::slice::from_ref(&group)), false)?;
        Ok(group)
    }
}
