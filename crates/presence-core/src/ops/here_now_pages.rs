//! Paged here now: reading a channel set completely, however many occupants, over
//! `limit`/`offset` (PROTOCOL.md §4.1: the service lists at most `limit` user ids per
//! channel, from `offset`, and always reports the full occupancy). See [`HereNowPager`].

use super::here_now::{ChannelOccupancy, HereNow, HereNowResult, HERE_NOW_MAX_LIMIT};
use std::collections::{HashMap, HashSet};

/// Most pages one read asks for (a million occupants a channel at the largest page
/// size): a service that keeps reporting more occupants than it lists cannot keep the
/// pager going forever.
pub const HERE_NOW_MAX_PAGES: u32 = 1_000;

/// Reads a here now page by page. It is sans-IO: it hands out the request of the next
/// page and takes each answer, merging them into one [`HereNowResult`]. Every page asks
/// for the same
/// channels and groups with the next offset (a group is never replaced by the channels
/// it held, which a token may not be allowed to read directly); paging ends when no
/// channel can have more occupants than were listed.
///
/// **While a channel is stable** each occupant is listed exactly once. **When it
/// changes between pages** the service's offsets shift: an occupant listed before the
/// change can come again (the pager drops repeated user ids) and one can be missed (a
/// user before the offset left, moving the rest down a place). The pager then reports
/// [`is_stable`](HereNowPager::is_stable) `false` — a channel's occupancy moved between
/// pages, a user id came twice, or the count collected differs from the occupancy — and
/// whoever needs the exact list reads again (the roster does).
///
/// Count-only here now (`include_user_ids(false)`, never lists user ids) is one page.
///
/// ```
/// use presence_core::{HereNow, HereNowPager, Operation};
/// let mut pager = HereNowPager::new(HereNow::new().channels(["arena"]).limit(2));
/// let mut bodies = [
///     r#"{"status": 200, "occupancy": 3, "uuids": ["a", "b"]}"#,
///     r#"{"status": 200, "occupancy": 3, "uuids": ["c"]}"#,
/// ]
/// .into_iter();
/// while let Some(page) = pager.next_page() {
///     // … send `page` with any client; here, canned answers:
///     let body = bodies.next().unwrap();
///     let result = page.parse_response(&http::Response::new(body.as_bytes())).unwrap();
///     pager.handle_page(result);
/// }
/// let all = pager.into_result();
/// assert_eq!(all.channels[0].occupants.len(), 3);
/// assert_eq!(all.channels[0].occupants[2].user_id, "c");
/// ```
#[derive(Debug, Clone)]
pub struct HereNowPager {
    /// The request of every page but its offset.
    op: HereNow,
    /// User ids per page (the request's `limit`).
    page_size: u32,
    /// Offset of the next page.
    offset: u32,
    pages: u32,
    done: bool,
    stable: bool,
    result: HereNowResult<'static>,
    /// Index of each channel in `result.channels`.
    index: HashMap<String, usize>,
    /// User ids listed so far, per channel (the same order as `result.channels`).
    seen: Vec<HashSet<String>>,
}

impl HereNowPager {
    /// A pager for `op` (its channels, groups and flags; its `limit` is the page
    /// size, its `offset` where to start).
    pub fn new(op: HereNow) -> Self {
        let page_size = op.limit_value().clamp(1, HERE_NOW_MAX_LIMIT);
        let offset = op.offset_value();
        Self {
            op,
            page_size,
            offset,
            pages: 0,
            done: false,
            stable: true,
            result: HereNowResult::default(),
            index: HashMap::new(),
            seen: Vec::new(),
        }
    }

    /// The request for the next page, or `None` once every occupant was read.
    #[must_use]
    pub fn next_page(&self) -> Option<HereNow> {
        (!self.done).then(|| self.op.clone().offset(self.offset))
    }

    /// Takes the answer to [`next_page`](Self::next_page)'s request.
    pub fn handle_page(&mut self, page: HereNowResult<'static>) {
        if self.done {
            return;
        }
        self.pages += 1;
        let first = self.pages == 1;
        self.result.total_channels = page.total_channels;
        self.result.total_occupancy = page.total_occupancy;
        let mut more = false;
        for channel in page.channels {
            let at = match self.index.get(channel.name.as_ref()) {
                Some(&at) => at,
                None => {
                    if !first {
                        // A channel that was not there on the first page joined the
                        // set (a group grew): its first occupants were not read.
                        self.stable &= channel.occupancy == 0;
                    }
                    self.index
                        .insert(channel.name.to_string(), self.result.channels.len());
                    self.result.channels.push(ChannelOccupancy {
                        name: channel.name.clone(),
                        occupancy: channel.occupancy,
                        occupants: Vec::new(),
                    });
                    self.seen.push(HashSet::new());
                    self.result.channels.len() - 1
                }
            };
            let merged = &mut self.result.channels[at];
            if merged.occupancy != channel.occupancy {
                self.stable = false;
                merged.occupancy = channel.occupancy;
            }
            let listed = channel.occupants.len();
            for occupant in channel.occupants {
                if self.seen[at].insert(occupant.user_id.to_string()) {
                    merged.occupants.push(occupant);
                } else {
                    self.stable = false;
                }
            }
            // A full page of a channel that reports more occupants than this page
            // reaches: read on.
            let reached = u64::from(self.offset) + listed as u64;
            if listed as u32 >= self.page_size && reached < channel.occupancy {
                more = true;
            }
        }
        let next = self.offset.checked_add(self.page_size);
        if !self.op.lists_user_ids() || !more || self.pages >= HERE_NOW_MAX_PAGES || next.is_none()
        {
            self.done = true;
            if more {
                // Stopped by the page bound or the offset range, not by the answer.
                self.stable = false;
            }
            let counted = self
                .result
                .channels
                .iter()
                .all(|c| c.occupants.len() as u64 == c.occupancy);
            if self.op.lists_user_ids() && !counted {
                self.stable = false;
            }
        }
        self.offset = next.unwrap_or(u32::MAX);
    }

    /// Starts over: the next page is the first again, and what was read is dropped.
    pub fn restart(&mut self) {
        *self = Self::new(self.op.clone());
    }

    /// Whether every occupant has been read (no more pages to ask for).
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Whether the pages agreed with each other: no occupancy moved between pages, no
    /// user id came twice, and (once done) every channel's list holds its occupancy.
    pub fn is_stable(&self) -> bool {
        self.stable
    }

    /// Pages answered so far.
    pub fn pages_read(&self) -> u32 {
        self.pages
    }

    /// The merged result so far (complete once [`is_done`](Self::is_done)).
    pub fn result(&self) -> &HereNowResult<'static> {
        &self.result
    }

    /// The merged result.
    pub fn into_result(self) -> HereNowResult<'static> {
        self.result
    }
}

/// Something a [`HereNowPager`] can be run with: the `presence` facade implements it
/// for `&Client` (a `Stream` of pages and a future of all of them) and
/// `&blocking::Client` (an `Iterator` and the merged result), so that
/// `client.here_now()…pages()` and `…all_pages()` work on both.
pub trait ExecutePages: Copy {
    /// What [`HereNow::pages`] gives: each page as it is read.
    type Pages;
    /// What [`HereNow::all_pages`] gives: every page merged into one result.
    type All;

    /// Reads the pages one by one.
    fn pages(self, pager: HereNowPager) -> Self::Pages;

    /// Reads every page and merges them.
    fn all_pages(self, pager: HereNowPager) -> Self::All;
}

impl<C: ExecutePages> HereNow<C> {
    /// Reads the here now page by page (the operation's `limit` is the page size):
    /// a `Stream` of pages on the async client, an `Iterator` on the blocking one.
    pub fn pages(self) -> C::Pages {
        let (op, client) = self.unbind();
        client.pages(HereNowPager::new(op))
    }

    /// Reads every page of the here now and merges them into one result: every
    /// occupant of every channel, however many (see [`HereNowPager`]).
    pub fn all_pages(self) -> C::All {
        let (op, client) = self.unbind();
        client.all_pages(HereNowPager::new(op))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Operation;

    /// A here now answer for one page of `channels` (name, occupancy, ids listed).
    fn page(channels: &[(&str, u64, &[&str])]) -> HereNowResult<'static> {
        let body = serde_json::json!({
            "status": 200,
            "payload": {
                "channels": channels.iter().map(|(n, occ, ids)| {
                    ((*n).to_owned(), serde_json::json!({"occupancy": occ, "uuids": ids}))
                }).collect::<serde_json::Map<_, _>>(),
                "total_channels": channels.len(),
                "total_occupancy": channels.iter().map(|c| c.1).sum::<u64>(),
            }
        });
        HereNow::new()
            .channels(["x", "y"])
            .parse_response(&http::Response::new(body.to_string().into_bytes()))
            .unwrap()
    }

    fn offsets(pager: &HereNowPager) -> Option<String> {
        pager.next_page().map(|op| {
            let config =
                crate::Config::new(crate::Keyset::new("k"), crate::UserId::new("u").unwrap());
            let req = op.to_request(&config, &crate::RequestMeta::new(0)).unwrap();
            req.uri().query().unwrap().to_owned()
        })
    }

    #[test]
    fn reads_every_page_of_the_longest_channel() {
        let mut pager = HereNowPager::new(HereNow::new().channels(["x", "y"]).limit(2));
        assert!(offsets(&pager).unwrap().contains("limit=2"));
        assert!(!offsets(&pager).unwrap().contains("offset"));
        pager.handle_page(page(&[("x", 5, &["a", "b"]), ("y", 1, &["z"])]));
        assert!(offsets(&pager).unwrap().contains("offset=2"));
        pager.handle_page(page(&[("x", 5, &["c", "d"]), ("y", 1, &[])]));
        assert!(offsets(&pager).unwrap().contains("offset=4"));
        pager.handle_page(page(&[("x", 5, &["e"]), ("y", 1, &[])]));
        assert!(pager.is_done() && pager.is_stable());
        assert_eq!(pager.pages_read(), 3);
        let r = pager.into_result();
        let ids: Vec<&str> = r.channels[0]
            .occupants
            .iter()
            .map(|o| &*o.user_id)
            .collect();
        assert_eq!(ids, ["a", "b", "c", "d", "e"]);
        assert_eq!(r.channels[1].occupants.len(), 1);
    }

    #[test]
    fn a_change_between_pages_is_reported_and_repeats_dropped() {
        let mut pager = HereNowPager::new(HereNow::new().channels(["x"]).limit(2));
        pager.handle_page(page(&[("x", 3, &["a", "b"])]));
        // `a` left, so the service's offset 2 now starts after `c`; `b` comes again.
        pager.handle_page(page(&[("x", 2, &["b"])]));
        assert!(pager.is_done());
        assert!(!pager.is_stable());
        let ids: Vec<String> = pager.result().channels[0]
            .occupants
            .iter()
            .map(|o| o.user_id.to_string())
            .collect();
        assert_eq!(ids, ["a", "b"]);
    }

    #[test]
    fn count_only_is_one_page_and_a_lying_service_cannot_page_forever() {
        let mut pager = HereNowPager::new(HereNow::new().channels(["x"]).include_user_ids(false));
        pager.handle_page(page(&[("x", 3000, &[])]));
        assert!(pager.is_done() && pager.is_stable());
        // Always a full page, always "more": bounded by HERE_NOW_MAX_PAGES.
        let mut pager = HereNowPager::new(HereNow::new().channels(["x"]).limit(1));
        let mut n = 0;
        while pager.next_page().is_some() {
            n += 1;
            pager.handle_page(page(&[("x", u64::MAX, &["same"])]));
        }
        assert_eq!(n, HERE_NOW_MAX_PAGES);
        assert!(!pager.is_stable());
    }
}
