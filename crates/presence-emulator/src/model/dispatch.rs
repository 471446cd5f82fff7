//! The gate every request passes, in this order (each failure is its own error
//! response, and leaves the model unchanged): `OPTIONS`, target length, route, method,
//! `/time/0`, query decoding, subscribe key, the keyset's rate limit, signature (keysets with a secret key), the
//! `uuid` of presence requests. Then the one match from [`RouteKind`] to its handler;
//! handlers call [`KeysetState::check_access`] once they know the channels and groups
//! a request names.

use super::keyset::KeysetState;
use super::schedule::NANOS;
use super::{Dispatch, Model, Reply};
use crate::auth::{denied, verify_signature};
use crate::body::{self, bad_request, decode_error};
use crate::config::Permissions;
use crate::wire::{decode, Query, RouteKind, Service, Target};
use http::{Method, Request, StatusCode};

impl Model {
    /// Checks `req` at `now` and routes it to its keyset's handler.
    pub(crate) fn gate<B>(&self, now: u64, req: &Request<B>) -> Result<Dispatch, Reply> {
        let method = req.method();
        if method == Method::OPTIONS {
            return Err(body::respond(StatusCode::OK, "Pubnub Presence", Vec::new()));
        }
        let path = req.uri().path();
        let raw_query = req.uri().query();
        let target_len = path.len() + raw_query.map_or(0, |q| q.len() + 1);
        if target_len > self.config.max_url_len {
            return Err(body::error(
                StatusCode::URI_TOO_LONG,
                Service::of_path(path),
                "Request-URI Too Long",
            ));
        }
        let Some(target) = Target::parse(path) else {
            return Err(body::error(
                StatusCode::NOT_FOUND,
                Service::of_path(path),
                "Not Found",
            ));
        };
        let service = target.service();
        if method != Method::GET {
            return Err(body::error(
                StatusCode::METHOD_NOT_ALLOWED,
                service,
                "Method Not Allowed",
            ));
        }
        let route = match target {
            Target::Time => {
                let tt = now / 100;
                return Err(body::respond(
                    StatusCode::OK,
                    "Pubnub",
                    format!("[{tt}]").into_bytes(),
                ));
            }
            Target::Keyset(route) => route,
        };
        let query = Query::parse(raw_query).map_err(|e| decode_error(service, e))?;
        let sk = decode(route.sub_key, false).map_err(|e| decode_error(service, e))?;
        let window = self.config.signature_window.as_secs();
        let Some(ks) = self.keysets.get(sk.as_ref()) else {
            return Err(bad_request(service, "Invalid Subscribe Key"));
        };
        let mut ks = self.lock(ks);
        if let Err(retry_after) = ks.rate.admit(now) {
            return Err(body::too_many_requests(service, retry_after));
        }
        if let Some(secret) = ks.keyset.secret_key.as_deref() {
            if let Err(e) = verify_signature(
                &ks.keyset,
                secret,
                method.as_str(),
                path,
                &query,
                now / NANOS,
                window,
            ) {
                let (detail, location) = e.detail();
                return Err(body::invalid_signature(service, detail, location));
            }
        }
        let presence = !matches!(service, Service::ChannelRegistry);
        if presence && query.get("uuid").filter(|u| !u.is_empty()).is_none() {
            return Err(bad_request(service, "Missing UUID"));
        }
        let wait_id = || {
            self.next_wait
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        };
        let out = ks.route(now, route.kind, &query, wait_id);
        self.collect_ready(&mut ks);
        out
    }
}

impl KeysetState {
    /// The handler of each route (each decodes its own raw path segments).
    fn route(
        &mut self,
        now: u64,
        kind: RouteKind<'_>,
        q: &Query<'_>,
        wait_id: impl FnOnce() -> u64,
    ) -> Result<Dispatch, Reply> {
        let reply = match kind {
            RouteKind::HereNowGlobal => self.here_now_global(now, q),
            RouteKind::HereNow { channels } => self.here_now_channels(now, q, channels),
            RouteKind::WhereNow { uuid } => self.where_now(now, q, uuid),
            RouteKind::Heartbeat { channels } => self.heartbeat(now, q, channels),
            RouteKind::Leave { channels } => self.leave(now, q, channels),
            RouteKind::SetState { channels, uuid } => self.set_state(now, q, channels, uuid),
            RouteKind::GetState { channels, uuid } => self.get_state(now, q, channels, uuid),
            RouteKind::ListGroups => self.list_groups(q),
            RouteKind::Group { group } => self.group(q, group),
            RouteKind::DeleteGroup { group } => self.delete_group(q, group),
            RouteKind::Subscribe { channels } => return self.subscribe(now, q, channels, wait_id),
        };
        reply.map(Dispatch::Response)
    }

    /// Access Manager (when on for this keyset): the recorded 403 unless the request's
    /// `auth` token has one of the permissions `any_of` on every channel and group
    /// named. With `needs_any_token`, a request naming none still needs a granted token
    /// (here now on the whole keyset, where now, the list of groups).
    pub(crate) fn check_access(
        &self,
        svc: Service,
        q: &Query<'_>,
        any_of: Permissions,
        (channels, groups): (&[String], &[String]),
        needs_any_token: bool,
    ) -> Result<(), Reply> {
        match denied(
            &self.keyset,
            q.get("auth"),
            any_of,
            channels,
            groups,
            needs_any_token,
        ) {
            None => Ok(()),
            Some((c, g)) => Err(body::forbidden(svc, &c, &g)),
        }
    }
}
