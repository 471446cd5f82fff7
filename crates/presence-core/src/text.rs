//! Text read from a response body: where it lives ([`Store`]), one copy shared by the
//! many texts of an owned result ([`SharedText`]), and [`Name`], the user ids and
//! channel names of a here-now result.

use std::borrow::{Borrow, Cow};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

/// Where a text lives.
#[derive(Clone)]
pub(crate) enum Store<'a> {
    /// In the response body.
    Borrowed(&'a str),
    /// In a string of its own.
    Owned(String),
    /// `start..start + len` of a text shared with the other texts of one owned result.
    Shared { all: Arc<str>, start: u32, len: u32 },
}

impl<'a> Store<'a> {
    /// The text.
    pub(crate) fn get(&self) -> &str {
        match self {
            Store::Borrowed(text) => text,
            Store::Owned(text) => text,
            // `SharedText` made the range, inside `all` and on character boundaries.
            Store::Shared { all, start, len } => {
                let start = *start as usize;
                all.get(start..start + *len as usize).unwrap_or_default()
            }
        }
    }

    /// The same text, owned (a shared text stays shared).
    pub(crate) fn into_owned(self) -> Store<'static> {
        match self {
            Store::Borrowed(text) => Store::Owned(text.to_owned()),
            Store::Owned(text) => Store::Owned(text),
            Store::Shared { all, start, len } => Store::Shared { all, start, len },
        }
    }

    /// The text as a `String` of its own.
    fn into_string(self) -> String {
        match self {
            Store::Owned(text) => text,
            other => other.get().to_owned(),
        }
    }
}

impl<'a> From<Cow<'a, str>> for Store<'a> {
    fn from(text: Cow<'a, str>) -> Self {
        match text {
            Cow::Borrowed(text) => Store::Borrowed(text),
            Cow::Owned(text) => Store::Owned(text),
        }
    }
}

/// One copy of the borrowed texts of one result, shared by all of them: what makes an
/// owned here-now result cost one or two allocations for all its names and states
/// instead of one each. [`own`](Self::own) turns a borrowed text into a range of
/// that copy; owned texts stay as they are.
pub(crate) struct SharedText(Sharing);

enum Sharing {
    /// Nothing to share: each borrowed text is copied on its own.
    Nothing,
    /// The concatenated texts, handed out in the order `new` saw them.
    InOrder { all: Arc<str>, next: usize },
    /// A copy of the whole body the texts borrow from, at `base` (an address, only
    /// compared): a text's range is where it sits in the body.
    Body { all: Arc<str>, base: usize },
}

impl SharedText {
    /// The concatenation of every borrowed text among `texts`, which
    /// [`own`](Self::own) must then take in the same order. Past `u32::MAX` bytes
    /// nothing is shared.
    pub(crate) fn new<'v, 'a: 'v>(texts: impl Iterator<Item = &'v Store<'a>> + Clone) -> Self {
        let borrowed = texts.filter_map(|t| match t {
            Store::Borrowed(text) => Some(*text),
            _ => None,
        });
        match concat(borrowed) {
            Some(all) => SharedText(Sharing::InOrder { all, next: 0 }),
            None => SharedText(Sharing::Nothing),
        }
    }

    /// One copy of `body`, for texts borrowed from it, taken in any order: no pass
    /// over the texts first, and one copy (`memcpy`) instead of one per text. The
    /// copy keeps the JSON around the texts too, which the parser's result would
    /// have held anyway for a here-now body (names and states are most of it).
    /// Past `u32::MAX` bytes nothing is shared.
    pub(crate) fn body(body: &str) -> Self {
        if body.is_empty() || u32::try_from(body.len()).is_err() {
            return SharedText(Sharing::Nothing);
        }
        SharedText(Sharing::Body {
            all: Arc::from(body),
            base: body.as_ptr() as usize,
        })
    }

    /// `text` owned: a borrowed text becomes a range of the shared copy.
    pub(crate) fn own(&mut self, text: Store<'_>) -> Store<'static> {
        let Store::Borrowed(borrowed) = text else {
            return text.into_owned();
        };
        let len = borrowed.len();
        let start = match &mut self.0 {
            Sharing::Nothing => None,
            Sharing::InOrder { all, next } => {
                let start = *next;
                *next += len;
                // `own` must take the texts in the order `new` saw them.
                debug_assert_eq!(all.get(start..start + len), Some(borrowed));
                Some(start)
            }
            Sharing::Body { all, base } => (borrowed.as_ptr() as usize)
                .checked_sub(*base)
                .filter(|start| start + len <= all.len()),
        };
        match (&self.0, start) {
            (Sharing::InOrder { all, .. } | Sharing::Body { all, .. }, Some(start)) => {
                Store::range(all, start, len)
            }
            // Not from the body (or nothing shared): a copy of its own.
            _ => Store::Owned(borrowed.to_owned()),
        }
    }
}

/// What a parser makes of each text it reads from a body that lives for `'a`: a text
/// of a result that lives for `'o`. [`Borrowed`] keeps it borrowed (a view); a
/// [`BodyCopy`] makes it a range of its copy of the body (an owned result, with no
/// second pass over a view).
pub(crate) trait Keep<'a, 'o> {
    /// The text as the result holds it.
    fn keep(&mut self, text: Cow<'a, str>) -> Store<'o>;
}

/// Keeps the texts borrowed from the body.
pub(crate) struct Borrowed;

impl<'a> Keep<'a, 'a> for Borrowed {
    #[inline]
    fn keep(&mut self, text: Cow<'a, str>) -> Store<'a> {
        Store::from(text)
    }
}

/// One copy of a body ([`SharedText::body`]) for the texts a parser reads from it, in
/// any order: a borrowed text becomes its range of the copy. Only this kind of shared
/// text is a [`Keep`], as the other ([`SharedText::new`]) must take its texts in the
/// order it saw them.
pub(crate) struct BodyCopy(SharedText);

impl BodyCopy {
    /// A copy of `body`, the text the parser reads.
    pub(crate) fn new(body: &str) -> Self {
        BodyCopy(SharedText::body(body))
    }
}

impl<'a> Keep<'a, 'static> for BodyCopy {
    #[inline]
    fn keep(&mut self, text: Cow<'a, str>) -> Store<'static> {
        self.0.own(Store::from(text))
    }
}

impl Store<'static> {
    /// `start..start + len` of `all`, which is at most `u32::MAX` bytes long (every
    /// shared text is checked when it is made: `concat`, [`SharedText::body`]).
    fn range(all: &Arc<str>, start: usize, len: usize) -> Self {
        debug_assert!(start + len <= all.len() && u32::try_from(all.len()).is_ok());
        Store::Shared {
            all: Arc::clone(all),
            start: start as u32,
            len: len as u32,
        }
    }
}

/// `texts` one after the other in one shared text; `None` when they are empty or past
/// `u32::MAX` bytes (ranges are `u32`).
fn concat<'t>(texts: impl Iterator<Item = &'t str> + Clone) -> Option<Arc<str>> {
    let total: usize = texts.clone().map(str::len).sum();
    if total == 0 || u32::try_from(total).is_err() {
        return None;
    }
    let mut text = String::with_capacity(total);
    texts.for_each(|t| text.push_str(t));
    Some(Arc::from(text))
}

/// Rewrites `texts` as ranges of one new text holding just theirs: for a result's texts
/// kept long after the result (the roster's states), which would otherwise keep the
/// whole body they were parsed from alive. Past `u32::MAX` bytes they stay as they are.
pub(crate) fn compact(texts: Vec<&mut Store<'static>>) {
    let Some(all) = concat(texts.iter().map(|t| t.get())) else {
        return;
    };
    let mut next = 0;
    for t in texts {
        let len = t.get().len();
        *t = Store::range(&all, next, len);
        next += len;
    }
}

/// A user id or channel name from a here-now answer: borrowed from the body in a view
/// ([`HereNow::parse_view`](crate::HereNow::parse_view)), and in an owned result a
/// range of one text all its names and states share (for
/// [`parse_response`](crate::Operation::parse_response), one copy of the body), so
/// an owned result of a thousand occupants costs one allocation for their names, not
/// a thousand, and a clone is a reference count.
///
/// It reads as a `&str` (`Deref`, `AsRef<str>`, `Borrow<str>`), compares with `str`,
/// `&str`, `String` and `Cow<str>`, and displays as the text itself; with the `serde`
/// feature it serializes as a JSON string.
///
/// ```
/// use presence_core::{HereNow, Operation};
/// let op = HereNow::new().channels(["lobby"]);
/// let body = br#"{"status": 200, "occupancy": 1, "uuids": ["ann"]}"#;
/// let result = op.parse_response(&http::Response::new(&body[..])).unwrap();
/// let ann = &result.channels[0].occupants[0].user_id;
/// assert_eq!(ann, "ann");
/// assert!(ann.starts_with('a'));
/// let id: String = ann.clone().into_string();
/// assert_eq!(id, "ann");
/// ```
///
/// Holding one name of an owned result keeps that result's shared text (the body)
/// alive; copy it into a `String` ([`into_string`](Self::into_string)) to keep it
/// for long on its own.
#[derive(Clone)]
pub struct Name<'a>(Store<'a>);

impl<'a> Name<'a> {
    /// A name borrowing `text`.
    pub const fn borrowed(text: &'a str) -> Self {
        Name(Store::Borrowed(text))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    /// The text, when it is borrowed from the body (a view's name that had no escape
    /// in the JSON string); `None` when it is owned or shared.
    pub fn as_borrowed(&self) -> Option<&'a str> {
        match self.0 {
            Store::Borrowed(text) => Some(text),
            _ => None,
        }
    }

    /// The same name owning its text (a shared text stays shared).
    pub fn into_owned(self) -> Name<'static> {
        Name(self.0.into_owned())
    }

    /// The text as a `String` of its own (no copy when it already is one).
    pub fn into_string(self) -> String {
        self.0.into_string()
    }

    /// Where the text lives, for [`SharedText`].
    pub(crate) fn store(&self) -> &Store<'a> {
        &self.0
    }

    /// The same name owned through `shared`.
    pub(crate) fn own(self, shared: &mut SharedText) -> Name<'static> {
        Name(shared.own(self.0))
    }

    /// A name of the text kept in `store`.
    pub(crate) fn from_store(store: Store<'a>) -> Self {
        Name(store)
    }
}

impl Default for Name<'_> {
    /// The empty name.
    fn default() -> Self {
        Name::borrowed("")
    }
}

impl Deref for Name<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Name<'_> {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Name<'_> {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Name<'_> {
    /// As the `str` (`"ann"`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq for Name<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Name<'_> {}

impl PartialOrd for Name<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Name<'_> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for Name<'_> {
    /// As the `str` (so that `Borrow<str>` finds it in a map).
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

/// `name == "ann"` and the other ways round, for the string types callers hold.
macro_rules! eq_str {
    ($($other:ty),*) => {$(
        impl PartialEq<$other> for Name<'_> {
            fn eq(&self, other: &$other) -> bool {
                self.as_str() == AsRef::<str>::as_ref(other)
            }
        }
        impl PartialEq<Name<'_>> for $other {
            fn eq(&self, other: &Name<'_>) -> bool {
                AsRef::<str>::as_ref(self) == other.as_str()
            }
        }
    )*};
}
eq_str!(str, &str, String, Cow<'_, str>);

impl<'a> From<&'a str> for Name<'a> {
    fn from(text: &'a str) -> Self {
        Name::borrowed(text)
    }
}

impl From<String> for Name<'_> {
    fn from(text: String) -> Self {
        Name(Store::Owned(text))
    }
}

impl<'a> From<Cow<'a, str>> for Name<'a> {
    fn from(text: Cow<'a, str>) -> Self {
        Name(Store::from(text))
    }
}

impl From<Name<'_>> for String {
    fn from(name: Name<'_>) -> Self {
        name.into_string()
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Name<'_> {
    /// A JSON string.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Name<'_> {
    /// A JSON string, owned.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Name::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn shared_texts_read_as_their_own() {
        let texts = [
            Store::Borrowed("ann"),
            Store::Owned("bob".to_owned()),
            Store::Borrowed(r#"{"a": 1}"#),
        ];
        let mut shared = SharedText::new(texts.iter());
        let out: Vec<Store<'static>> = texts.into_iter().map(|t| shared.own(t)).collect();
        assert_eq!(
            out.iter().map(Store::get).collect::<Vec<_>>(),
            ["ann", "bob", r#"{"a": 1}"#]
        );
        assert!(matches!(
            out[0],
            Store::Shared {
                start: 0,
                len: 3,
                ..
            }
        ));
        assert!(matches!(out[1], Store::Owned(_)));
        assert!(matches!(
            out[2],
            Store::Shared {
                start: 3,
                len: 8,
                ..
            }
        ));
    }

    #[test]
    fn nothing_borrowed_shares_nothing() {
        let texts = [Store::Owned("x".to_owned())];
        let mut shared = SharedText::new(texts.iter());
        assert!(matches!(shared.0, Sharing::Nothing));
        let [t] = texts;
        assert_eq!(shared.own(t).get(), "x");
    }

    #[test]
    fn compacted_texts_share_a_text_of_their_own() {
        let body_text = r#"{"a": "ann", "b": "bo"}"#;
        let mut body = SharedText::body(body_text);
        let mut texts = [
            body.own(Store::Borrowed(&body_text[7..10])),
            Store::Owned("x".to_owned()),
        ];
        // Before: a range of the whole body.
        assert!(
            matches!(&texts[0], Store::Shared { all, start: 7, len: 3 } if &**all == body_text)
        );
        compact(texts.iter_mut().collect());
        assert_eq!(texts.each_ref().map(Store::get), ["ann", "x"]);
        for t in &texts {
            assert!(matches!(t, Store::Shared { all, .. } if &**all == "annx"));
        }
    }

    #[test]
    fn texts_of_a_body_are_its_ranges_in_any_order() {
        let body = r#"{"a": "ann", "b": "bo"}"#;
        let mut shared = SharedText::body(body);
        let (ann, bo) = (&body[7..10], &body[19..21]);
        let out = [bo, ann, "elsewhere"].map(|t| shared.own(Store::Borrowed(t)));
        assert!(matches!(
            out[0],
            Store::Shared {
                start: 19,
                len: 2,
                ..
            }
        ));
        assert!(matches!(
            out[1],
            Store::Shared {
                start: 7,
                len: 3,
                ..
            }
        ));
        // A text that is not part of the body is copied on its own.
        assert!(matches!(&out[2], Store::Owned(t) if t == "elsewhere"));
        assert_eq!(out.each_ref().map(Store::get), ["bo", "ann", "elsewhere"]);
        assert!(matches!(SharedText::body("").0, Sharing::Nothing));
    }

    #[test]
    fn a_name_reads_compares_and_hashes_as_its_text() {
        let texts = [Store::Borrowed("ann")];
        let mut shared = SharedText::new(texts.iter());
        let owned = Name::borrowed("ann").own(&mut shared);
        assert!(owned.as_borrowed().is_none());
        assert_eq!(Name::borrowed("ann").as_borrowed(), Some("ann"));
        for name in [Name::borrowed("ann"), Name::from("ann".to_owned()), owned] {
            assert_eq!(name, "ann");
            assert_eq!("ann", name);
            assert_eq!(name, "ann".to_owned());
            assert_eq!(name, Cow::Borrowed("ann"));
            assert_eq!(format!("{name} {name:?}"), r#"ann "ann""#);
            let set: HashSet<Name<'_>> = [name.clone()].into();
            assert!(set.contains("ann"));
            assert_eq!(name.clone().into_owned(), name);
            assert_eq!(String::from(name), "ann");
        }
        let (a, b) = (Name::borrowed("a"), Name::from("b".to_owned()));
        assert!(a < b && b.cmp(&a).is_gt());
        assert_eq!(Name::default(), "");
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serializes_as_a_string() {
        let name = Name::borrowed("b\"x");
        let text = serde_json::to_string(&name).unwrap();
        assert_eq!(text, r#""b\"x""#);
        let back: Name<'static> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, name);
    }
}
