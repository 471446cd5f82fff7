//! Paged here now on both clients: `client.here_now()…pages()` reads page after page
//! ([`PageStream`], a `futures_core::Stream`, on the async client; [`PageIter`], an
//! `Iterator`, on the blocking one) and `…all_pages()` merges every page into one
//! result, however many occupants a channel has (see [`presence_core::HereNowPager`]).
//!
//! ```
//! # #[cfg(feature = "ureq")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emulator = presence_emulator::Emulator::start_blocking(presence_emulator::EmulatorConfig::default())?;
//! let client = |user: &str| {
//!     presence::blocking::Client::builder()
//!         .subscribe_key("demo")
//!         .user_id(user)
//!         .origin(emulator.origin())
//!         .build_blocking()
//! };
//! for user in ["a", "b", "c"] {
//!     client(user)?.heartbeat().channels(["arena"]).execute()?;
//! }
//! // Two occupants a page: every one of them, exactly once.
//! let reader = client("reader")?;
//! let all = reader.here_now().channels(["arena"]).limit(2).all_pages()?;
//! assert_eq!(all.channels[0].occupants.len(), 3);
//! let pages = reader.here_now().channels(["arena"]).limit(2).pages().count();
//! assert_eq!(pages, 2);
//! # Ok(()) }
//! # #[cfg(not(feature = "ureq"))] fn main() {}
//! ```

use crate::transport::{AsyncTransport, BlockingTransport};
use crate::{blocking, Client, Error, Pending};
use presence_core::{ExecutePages, HereNowPager, HereNowResult};
use std::pin::Pin;
use std::task::{Context, Poll};

/// The pages of a here now on the async client, as they are read (a
/// `futures_core::Stream`); an error is the last item.
#[must_use = "a stream does nothing unless polled"]
pub struct PageStream<'c, T: AsyncTransport> {
    client: &'c Client<T>,
    pager: HereNowPager,
    in_flight: Option<Pending<'c, HereNowResult<'static>, T::Error>>,
    ended: bool,
}

impl<T: AsyncTransport> std::fmt::Debug for PageStream<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageStream")
            .field("pager", &self.pager)
            .finish_non_exhaustive()
    }
}

impl<'c, T: AsyncTransport> PageStream<'c, T> {
    /// What the pages read so far add up to (every occupant once paging ended).
    pub fn pager(&self) -> &HereNowPager {
        &self.pager
    }

    /// The next page, or `None` once every page was read (or after an error).
    pub async fn next_page(&mut self) -> Option<Result<HereNowResult<'static>, Error<T::Error>>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next_page(cx)).await
    }

    fn poll_next_page(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<HereNowResult<'static>, Error<T::Error>>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        if self.in_flight.is_none() {
            let Some(op) = self.pager.next_page() else {
                self.ended = true;
                return Poll::Ready(None);
            };
            let client = self.client;
            self.in_flight = Some(Box::pin(async move { client.run(&op, None).await }));
        }
        let Some(call) = self.in_flight.as_mut() else {
            return Poll::Ready(None);
        };
        let result = std::task::ready!(call.as_mut().poll(cx));
        self.in_flight = None;
        Poll::Ready(Some(match result {
            Ok(page) => {
                self.pager.handle_page(page.clone());
                Ok(page)
            }
            Err(e) => {
                self.ended = true;
                Err(e)
            }
        }))
    }
}

impl<T: AsyncTransport> futures_core::Stream for PageStream<'_, T> {
    type Item = Result<HereNowResult<'static>, Error<T::Error>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.poll_next_page(cx)
    }
}

/// `client.here_now()…pages()` / `…all_pages()` on the async client.
impl<'c, T: AsyncTransport> ExecutePages for &'c Client<T> {
    type Pages = PageStream<'c, T>;
    type All = Pending<'c, HereNowResult<'static>, T::Error>;

    fn pages(self, pager: HereNowPager) -> PageStream<'c, T> {
        PageStream {
            client: self,
            pager,
            in_flight: None,
            ended: false,
        }
    }

    fn all_pages(self, pager: HereNowPager) -> Self::All {
        let mut pages = self.pages(pager);
        Box::pin(async move {
            while let Some(page) = pages.next_page().await {
                page?;
            }
            Ok(pages.pager.into_result())
        })
    }
}

/// The pages of a here now on the blocking client, as they are read; an error is the
/// last item.
#[must_use = "an iterator does nothing unless consumed"]
pub struct PageIter<'c, T: BlockingTransport> {
    client: &'c blocking::Client<T>,
    pager: HereNowPager,
    ended: bool,
}

impl<T: BlockingTransport> std::fmt::Debug for PageIter<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageIter")
            .field("pager", &self.pager)
            .finish_non_exhaustive()
    }
}

impl<T: BlockingTransport> PageIter<'_, T> {
    /// What the pages read so far add up to (every occupant once paging ended).
    pub fn pager(&self) -> &HereNowPager {
        &self.pager
    }
}

impl<T: BlockingTransport> Iterator for PageIter<'_, T> {
    type Item = Result<HereNowResult<'static>, Error<T::Error>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ended {
            return None;
        }
        let Some(op) = self.pager.next_page() else {
            self.ended = true;
            return None;
        };
        Some(match self.client.run(&op, None) {
            Ok(page) => {
                self.pager.handle_page(page.clone());
                Ok(page)
            }
            Err(e) => {
                self.ended = true;
                Err(e)
            }
        })
    }
}

/// `client.here_now()…pages()` / `…all_pages()` on the blocking client.
impl<'c, T: BlockingTransport> ExecutePages for &'c blocking::Client<T> {
    type Pages = PageIter<'c, T>;
    type All = Result<HereNowResult<'static>, Error<T::Error>>;

    fn pages(self, pager: HereNowPager) -> PageIter<'c, T> {
        PageIter {
            client: self,
            pager,
            ended: false,
        }
    }

    fn all_pages(self, pager: HereNowPager) -> Self::All {
        let mut pages = self.pages(pager);
        for page in pages.by_ref() {
            page?;
        }
        Ok(pages.pager.into_result())
    }
}
