//! [`RawJson`]: a JSON value kept as the text the service sent.

use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

use crate::text::{SharedText, Store};

/// A JSON value as the response body carries it: checked JSON text (any JSON the
/// grammar allows, including numbers beyond `f64` and lone surrogate escapes), read
/// into a type only when asked, so one odd state never hides the rest of an answer.
/// Every state this crate hands out (here now, get state, set state, presence events)
/// is one.
///
/// `Display` writes it as compact JSON (whitespace outside strings removed, values
/// untouched); with the `serde` feature it serializes as that JSON value itself.
///
/// ```
/// use presence_core::{HereNow, Operation};
/// let op = HereNow::new().channels(["lobby"]).include_state(true);
/// let body = br#"{"status": 200, "occupancy": 1, "uuids": [{"uuid": "ann", "state": {"hp": 7}}]}"#;
/// let response = http::Response::new(&body[..]);
/// let view = op.parse_view(&response).unwrap();
/// let state = view.channels[0].occupants[0].state.as_ref().unwrap();
/// assert_eq!(state.get(), r#"{"hp": 7}"#);
/// assert_eq!(state.to_string(), r#"{"hp":7}"#);
/// assert_eq!(state.to_value().unwrap()["hp"], 7);
/// #[derive(serde::Deserialize)]
/// struct Hp { hp: u32 }
/// assert_eq!(state.parse::<Hp>().unwrap().hp, 7);
/// ```
///
/// Two values are equal when their compact texts are (whitespace between tokens does
/// not count).
///
/// The states of one owned here-now result share one copy of their text with its
/// names (see [`Name`](crate::Name)), so a clone is a reference count, not a copy.
#[derive(Clone)]
pub struct RawJson<'a>(Store<'a>);

impl fmt::Debug for RawJson<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RawJson").field(&self.get()).finish()
    }
}

impl PartialEq for RawJson<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get() || self.compact() == other.compact()
    }
}

impl Eq for RawJson<'_> {}

impl std::hash::Hash for RawJson<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.compact().hash(state);
    }
}

impl<'a> RawJson<'a> {
    /// Wraps text already checked to be one JSON value, wherever it is kept.
    pub(crate) fn from_store(store: Store<'a>) -> Self {
        RawJson(store)
    }

    /// Wraps owned text already checked to be one JSON value.
    pub(crate) fn checked_owned(text: String) -> RawJson<'static> {
        RawJson(Store::Owned(text))
    }

    /// The JSON text of `value`.
    ///
    /// ```
    /// let state = presence_core::RawJson::from_value(&serde_json::json!({"a": [1, 2]}));
    /// assert_eq!(state.get(), r#"{"a":[1,2]}"#);
    /// ```
    pub fn from_value(value: &Value) -> RawJson<'static> {
        RawJson(Store::Owned(value.to_string()))
    }

    /// The JSON text, exactly as in the body.
    pub fn get(&self) -> &str {
        self.0.get()
    }

    /// Reads the value into `T` (fails where `T` cannot hold it, or for a number beyond
    /// `f64` or a lone surrogate, which the body's JSON allows).
    pub fn parse<'de, T: serde::Deserialize<'de>>(&'de self) -> serde_json::Result<T> {
        serde_json::from_str(self.get())
    }

    /// Reads the value into a [`serde_json::Value`] (fails only for a number beyond
    /// `f64` or a lone surrogate escape).
    pub fn to_value(&self) -> serde_json::Result<Value> {
        self.parse()
    }

    /// Whether the value is a JSON object.
    pub fn is_object(&self) -> bool {
        self.get().trim_start().starts_with('{')
    }

    /// The same value owning its text (a shared text stays shared).
    pub fn into_owned(self) -> RawJson<'static> {
        RawJson(self.0.into_owned())
    }

    /// Where the text lives, for [`SharedText`].
    pub(crate) fn store(&self) -> &Store<'a> {
        &self.0
    }

    /// Where the text lives, to be rewritten by [`compact`](crate::text::compact).
    pub(crate) fn store_mut(&mut self) -> &mut Store<'a> {
        &mut self.0
    }

    /// The same value owned through `shared`.
    pub(crate) fn own(self, shared: &mut SharedText) -> RawJson<'static> {
        RawJson(shared.own(self.0))
    }

    /// The text with the whitespace outside strings removed.
    fn compact(&self) -> Cow<'_, str> {
        let text: &str = self.get();
        let is_ws = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
        if !text.bytes().any(is_ws) {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let (mut in_string, mut escaped) = (false, false);
        for c in text.chars() {
            if in_string {
                match (escaped, c) {
                    (true, _) => escaped = false,
                    (false, '\\') => escaped = true,
                    (false, '"') => in_string = false,
                    _ => {}
                }
            } else if c == '"' {
                in_string = true;
            } else if c.is_ascii() && is_ws(c as u8) {
                continue;
            }
            out.push(c);
        }
        Cow::Owned(out)
    }
}

impl fmt::Display for RawJson<'_> {
    /// Compact JSON: the value as sent, without the whitespace between its tokens.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.compact())
    }
}

impl PartialEq<Value> for RawJson<'_> {
    /// Equal when the text reads as that value.
    fn eq(&self, other: &Value) -> bool {
        self.to_value().is_ok_and(|v| v == *other)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for RawJson<'_> {
    /// The value itself (compact), written verbatim by serde_json: a number beyond
    /// `f64` or a lone surrogate escape comes out as it came in.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw = serde_json::value::RawValue::from_string(self.compact().into_owned())
            .map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for RawJson<'_> {
    /// Any JSON value, kept as its text.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<serde_json::value::RawValue>::deserialize(deserializer)?;
        Ok(RawJson(Store::Owned(raw.get().to_owned())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value over `text`, borrowed, as a view holds it.
    fn checked(text: &str) -> RawJson<'_> {
        RawJson::from_store(Store::Borrowed(text))
    }

    #[test]
    fn shared_values_read_as_their_own_text() {
        let (a, b) = (checked(r#"{"a": 1}"#), checked("[true]"));
        let owned = RawJson::from_value(&serde_json::json!({"o": 2}));
        let values = [a.clone(), owned.clone(), b.clone()];
        let mut shared = SharedText::new(values.iter().map(RawJson::store));
        let out: Vec<RawJson<'static>> = values.into_iter().map(|v| v.own(&mut shared)).collect();
        assert_eq!(out[0].get(), r#"{"a": 1}"#);
        assert_eq!(out[1].get(), r#"{"o":2}"#);
        assert_eq!(out[2].get(), "[true]");
        assert_eq!((&out[0], &out[2]), (&a, &b));
        assert!(matches!(out[0].0, Store::Shared { .. }));
        assert!(matches!(out[1].0, Store::Owned(_)));
        assert_eq!(format!("{:?}", out[2]), r#"RawJson("[true]")"#);
        assert_eq!(out[2].clone().into_owned().get(), "[true]");
    }

    #[test]
    fn display_is_compact_and_keeps_strings() {
        let raw = checked("{ \"a b\" : [ 1 , \"x  y\\\" z\" ] ,\n\"n\": 1e400 }");
        assert_eq!(raw.to_string(), r#"{"a b":[1,"x  y\" z"],"n":1e400}"#);
        assert_eq!(checked("{}").to_string(), "{}");
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serializes_as_the_value_itself() {
        let raw = checked(r#"{"s": "x\ud800y", "n": 1e400}"#);
        let text = serde_json::to_string(&raw).unwrap();
        assert_eq!(text, r#"{"s":"x\ud800y","n":1e400}"#);
        let back: RawJson<'static> = serde_json::from_str(&text).unwrap();
        assert_eq!(back.get(), text);
    }
}
