//! A validating JSON reader for the here-now body: one pass over the bytes that checks
//! the grammar, bounds the nesting and hands out borrowed strings and raw value text.
//!
//! Here now is the one body that can be megabytes (global here now on a busy keyset),
//! and reading it through serde cost a separate nesting scan (serde_json skips unknown
//! fields and raw values without its recursion limit) plus serde's per-field dispatch.
//! This reader does both in the same pass. It accepts exactly the JSON that
//! `serde_json` accepts (RFC 8259; a `\u` escape in a skipped string is not checked for
//! surrogate pairs, as serde_json does not either), nested at most
//! [`MAX_DEPTH`](crate::response::MAX_DEPTH) levels: a property test checks it against
//! serde_json on generated and mutated documents. Typed reads follow serde's rules for
//! the types the derived parsers used: an unsigned field takes an integer token only
//! (`1.0`, `1e2` and `-0` are floats to serde_json), a repeated field name is an error.
//!
//! The input is a `&str` (the caller checks UTF-8 once), so strings need no further
//! UTF-8 check; a string with escapes is decoded by serde_json.

use crate::response::MAX_DEPTH;
use std::borrow::Cow;

/// What went wrong, and at which byte (boxed: results stay two words wide on the hot
/// path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JsonError(Box<(usize, String)>);

impl JsonError {
    fn new(at: usize, what: impl Into<String>) -> Self {
        JsonError(Box::new((at, what.into())))
    }
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at byte {}", self.0 .1, self.0 .0)
    }
}

pub(crate) type Result<T> = std::result::Result<T, JsonError>;

/// Bytes that end the plain run of a string: `"`, `\` and control characters.
const STRING_STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = true;
        b += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

const LO: u64 = u64::from_le_bytes([1; 8]);
const HI: u64 = u64::from_le_bytes([0x80; 8]);

/// High bit set in the byte of `word` (eight bytes, little-endian) that ends a plain
/// string run — a quote, a backslash or a control character — and possibly in bytes
/// after it (a borrow only carries upwards), so the lowest set bit marks the first such
/// byte exactly.
#[inline(always)]
fn string_stops(word: u64) -> u64 {
    let zero = |x: u64| x.wrapping_sub(LO) & !x;
    (zero(word ^ (LO * u64::from(b'"')))
        | zero(word ^ (LO * u64::from(b'\\')))
        | (word.wrapping_sub(LO * 0x20) & !word))
        & HI
}

/// What a scanner found wrong, with the position: a fixed message, or the nesting
/// bound (whose message is formatted, out of the hot path).
#[derive(Debug, Clone, Copy)]
enum Bad {
    Expected(&'static str),
    TooDeep,
}

/// A scanner's result: the position after what it read, or what was wrong and where.
/// The scanners below work on a position in a register rather than on the reader's
/// field, and leave formatting errors to [`Reader::fail`].
type Scan<T> = std::result::Result<T, (usize, Bad)>;

const EOF: Bad = Bad::Expected("EOF while parsing");

/// The position of the next significant byte at or after `pos` (or the end).
#[inline(always)]
fn skip_whitespace(bytes: &[u8], mut pos: usize) -> usize {
    // Whitespace is at most `' '`: one compare when none comes next.
    if bytes.get(pos).is_some_and(|&b| b > b' ') {
        return pos;
    }
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = bytes.get(pos) {
        pos += 1;
    }
    pos
}

/// Scans the string whose opening quote is at `pos`: the position after its closing
/// quote, and whether it has escapes.
#[inline(always)]
fn scan_string(bytes: &[u8], mut pos: usize) -> Scan<(usize, bool)> {
    pos += 1;
    let mut escaped = false;
    loop {
        // The plain run, eight bytes at a time (byte by byte in the last seven): most
        // strings are nothing else.
        let stop = loop {
            let Some(word) = bytes.get(pos..).and_then(<[u8]>::first_chunk::<8>) else {
                while let Some(&b) = bytes.get(pos) {
                    if STRING_STOP[usize::from(b)] {
                        break;
                    }
                    pos += 1;
                }
                break bytes.get(pos).copied();
            };
            let stops = string_stops(u64::from_le_bytes(*word));
            if stops != 0 {
                let i = (stops.trailing_zeros() / 8) as usize;
                pos += i;
                break word.get(i).copied();
            }
            pos += 8;
        };
        match stop {
            Some(b'"') => return Ok((pos + 1, escaped)),
            Some(b'\\') => {
                escaped = true;
                pos += 1;
                match bytes.get(pos) {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => pos += 1,
                    Some(b'u') => {
                        let hex = bytes.get(pos + 1..pos + 5);
                        if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                            return Err((pos, Bad::Expected("invalid \\u escape")));
                        }
                        pos += 5;
                    }
                    Some(_) => return Err((pos, Bad::Expected("invalid escape"))),
                    None => return Err((pos, EOF)),
                }
            }
            Some(_) => return Err((pos, Bad::Expected("control character in a string"))),
            None => return Err((pos, EOF)),
        }
    }
}

/// Scans the number token at `pos` (checked against the JSON grammar): the position
/// after it, and whether it has neither fraction nor exponent.
#[inline(always)]
fn skip_number(bytes: &[u8], mut pos: usize) -> Scan<(usize, bool)> {
    const INVALID: Bad = Bad::Expected("invalid number");
    let digits = |pos: &mut usize| {
        let from = *pos;
        while bytes.get(*pos).is_some_and(u8::is_ascii_digit) {
            *pos += 1;
        }
        *pos - from
    };
    if bytes.get(pos) == Some(&b'-') {
        pos += 1;
    }
    match bytes.get(pos) {
        Some(b'0') => pos += 1,
        Some(b'1'..=b'9') => {
            digits(&mut pos);
        }
        _ => return Err((pos, INVALID)),
    }
    let mut integer = true;
    if bytes.get(pos) == Some(&b'.') {
        integer = false;
        pos += 1;
        if digits(&mut pos) == 0 {
            return Err((pos, INVALID));
        }
    }
    if matches!(bytes.get(pos), Some(b'e' | b'E')) {
        integer = false;
        pos += 1;
        if matches!(bytes.get(pos), Some(b'+' | b'-')) {
            pos += 1;
        }
        if digits(&mut pos) == 0 {
            return Err((pos, INVALID));
        }
    }
    Ok((pos, integer))
}

/// Scans `word` (`true`, `false`, `null`) at `pos`.
#[inline(always)]
fn literal(bytes: &[u8], pos: usize, word: &[u8]) -> Scan<usize> {
    match bytes.get(pos..pos + word.len()) {
        Some(w) if w == word => Ok(pos + word.len()),
        _ => Err((pos, Bad::Expected("expected a JSON value"))),
    }
}

/// Scans a key (its quote at `pos`) and the `:` after it.
#[inline(always)]
fn key_colon(bytes: &[u8], pos: usize) -> Scan<usize> {
    let (pos, _) = scan_string(bytes, pos)?;
    let pos = skip_whitespace(bytes, pos);
    match bytes.get(pos) {
        Some(b':') => Ok(pos + 1),
        Some(_) => Err((pos, Bad::Expected("expected `:` after a key"))),
        None => Err((pos, EOF)),
    }
}

/// Scans (checking it) the value starting at `pos`, a significant byte, inside
/// `depth` open containers: the position after it.
///
/// Iterative, so the depth limit bounds the work and not the stack: the kinds of the
/// containers this value opened (at most [`MAX_DEPTH`] can be open) are the bits of a
/// `u128`, set for an object.
fn skip_value(bytes: &[u8], mut pos: usize, depth: usize) -> Scan<usize> {
    const _: () = assert!(MAX_DEPTH < 128);
    let mut kinds: u128 = 0;
    let mut open: usize = 0;
    'value: loop {
        pos = skip_whitespace(bytes, pos);
        match bytes.get(pos) {
            Some(b'{') => {
                pos += 1;
                if depth + open >= MAX_DEPTH {
                    return Err((pos, Bad::TooDeep));
                }
                kinds |= 1 << (open & 127);
                open += 1;
                pos = skip_whitespace(bytes, pos);
                match bytes.get(pos) {
                    Some(b'}') => {}
                    Some(b'"') => {
                        pos = key_colon(bytes, pos)?;
                        continue 'value;
                    }
                    Some(_) => return Err((pos, Bad::Expected("expected a key or `}`"))),
                    None => return Err((pos, EOF)),
                }
            }
            Some(b'[') => {
                pos += 1;
                if depth + open >= MAX_DEPTH {
                    return Err((pos, Bad::TooDeep));
                }
                kinds &= !(1 << (open & 127));
                open += 1;
                pos = skip_whitespace(bytes, pos);
                if bytes.get(pos) != Some(&b']') {
                    continue 'value;
                }
            }
            Some(b'"') => pos = scan_string(bytes, pos)?.0,
            Some(b'-' | b'0'..=b'9') => pos = skip_number(bytes, pos)?.0,
            Some(b't') => pos = literal(bytes, pos, b"true")?,
            Some(b'f') => pos = literal(bytes, pos, b"false")?,
            Some(b'n') => pos = literal(bytes, pos, b"null")?,
            Some(_) => return Err((pos, Bad::Expected("expected a JSON value"))),
            None => return Err((pos, EOF)),
        }
        // After a whole value, or an opener whose closer comes next: close what ends
        // here, then go on after a `,`.
        loop {
            if open == 0 {
                return Ok(pos);
            }
            let in_object = kinds & (1 << ((open - 1) & 127)) != 0;
            pos = skip_whitespace(bytes, pos);
            match (bytes.get(pos), in_object) {
                (Some(b'}'), true) | (Some(b']'), false) => {
                    pos += 1;
                    open -= 1;
                }
                (Some(b','), true) => {
                    pos = skip_whitespace(bytes, pos + 1);
                    if bytes.get(pos) != Some(&b'"') {
                        return Err((pos, Bad::Expected("expected a key after `,`")));
                    }
                    pos = key_colon(bytes, pos)?;
                    continue 'value;
                }
                (Some(b','), false) => {
                    pos += 1;
                    continue 'value;
                }
                (Some(_), _) => {
                    return Err((pos, Bad::Expected("expected `,` or a closing bracket")))
                }
                (None, _) => return Err((pos, EOF)),
            }
        }
    }
}

/// A string with escapes, quotes included, decoded by serde_json (which also rejects
/// lone surrogates); `start` is its position, for the error.
#[cold]
fn decode_escaped(quoted: &str, start: usize) -> Result<Cow<'_, str>> {
    match serde_json::from_str::<String>(quoted) {
        Ok(s) => Ok(Cow::Owned(s)),
        Err(e) => Err(JsonError::new(start, format!("unreadable string: {e}"))),
    }
}

/// An object key as the body writes it (see [`Reader::next_raw_key`]).
#[derive(Clone, Copy)]
pub(crate) struct RawKey<'a> {
    /// The text between the quotes, escapes undecoded.
    pub(crate) text: &'a str,
    /// Where its opening quote is.
    start: usize,
    /// Whether it has escapes.
    pub(crate) escaped: bool,
}

/// A cursor over a JSON text.
pub(crate) struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Reader {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            depth: 0,
        }
    }

    /// An error at the current position (out of line: errors are the cold path).
    #[cold]
    #[inline(never)]
    pub(crate) fn error<T>(&self, what: impl Into<String>) -> Result<T> {
        Err(JsonError::new(self.pos, what.into()))
    }

    /// The next significant byte, not consumed.
    #[inline(always)]
    pub(crate) fn peek(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.pos)?;
        // Whitespace is at most `' '`: one compare when none comes next.
        if b > b' ' {
            return Some(b);
        }
        self.pos = skip_whitespace(self.bytes, self.pos);
        self.bytes.get(self.pos).copied()
    }

    #[cold]
    #[inline(never)]
    fn eof<T>(&self) -> Result<T> {
        self.error("EOF while parsing")
    }

    /// Consumes `null` if it comes next.
    #[inline]
    pub(crate) fn null(&mut self) -> Result<bool> {
        if self.peek() == Some(b'n') {
            self.literal(b"null")?;
            return Ok(true);
        }
        Ok(false)
    }

    fn literal(&mut self, word: &[u8]) -> Result<()> {
        match self.bytes.get(self.pos..self.pos + word.len()) {
            Some(w) if w == word => {
                self.pos += word.len();
                Ok(())
            }
            _ => self.error("expected a JSON value"),
        }
    }

    #[inline(always)]
    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.error(format!("JSON nested deeper than {MAX_DEPTH} levels"));
        }
        Ok(())
    }

    /// Consumes `{`; an error naming `what` when the value is not an object.
    pub(crate) fn begin_object(&mut self, what: &str) -> Result<()> {
        self.begin(b'{', what, "a JSON object")
    }

    /// Consumes `open`; an error naming `what` and `kind` when something else comes.
    #[inline]
    fn begin(&mut self, open: u8, what: &str, kind: &str) -> Result<()> {
        match self.peek() {
            Some(b) if b == open => {
                self.pos += 1;
                self.enter()
            }
            Some(_) => self.error(format!("expected {what} ({kind})")),
            None => self.eof(),
        }
    }

    /// The next key of the object being read, with its `:` consumed; `None` after the
    /// closing `}`. `first` starts true for each object.
    #[inline]
    pub(crate) fn next_key(&mut self, first: &mut bool) -> Result<Option<Cow<'a, str>>> {
        match self.next_raw_key(first)? {
            Some(key) => self.decode(key).map(Some),
            None => Ok(None),
        }
    }

    /// [`next_key`](Self::next_key) without decoding: the key's text between its quotes
    /// as the body has it, and whether it has escapes (then [`decode`](Self::decode)
    /// gives its value). Matching known keys on the raw text needs no string made.
    #[inline]
    pub(crate) fn next_raw_key(&mut self, first: &mut bool) -> Result<Option<RawKey<'a>>> {
        match self.peek() {
            Some(b'}') => {
                self.pos += 1;
                self.depth -= 1;
                return Ok(None);
            }
            Some(b',') if !*first => {
                self.pos += 1;
                if self.peek() != Some(b'"') {
                    return self.error("expected a key after `,`");
                }
            }
            Some(b'"') if *first => {}
            Some(_) => return self.error("expected `,` or `}` in an object"),
            None => return self.eof(),
        }
        *first = false;
        // A quote is next (checked above).
        let start = self.pos;
        let escaped = self.scan_string()?;
        let key = RawKey {
            text: self.text.get(start + 1..self.pos - 1).unwrap_or_default(),
            start,
            escaped,
        };
        match self.peek() {
            Some(b':') => self.pos += 1,
            Some(_) => return self.error("expected `:` after a key"),
            None => return self.eof(),
        }
        Ok(Some(key))
    }

    /// The value of a key [`next_raw_key`](Self::next_raw_key) read.
    #[inline]
    pub(crate) fn decode(&self, key: RawKey<'a>) -> Result<Cow<'a, str>> {
        if !key.escaped {
            return Ok(Cow::Borrowed(key.text));
        }
        let quoted = self.text.get(key.start..key.start + key.text.len() + 2);
        decode_escaped(quoted.unwrap_or_default(), key.start)
    }

    /// Consumes `[`; an error naming `what` when the value is not an array.
    pub(crate) fn begin_array(&mut self, what: &str) -> Result<()> {
        self.begin(b'[', what, "a JSON array")
    }

    /// Whether another element follows in the array being read (its `,` consumed);
    /// false after the closing `]`.
    #[inline]
    pub(crate) fn next_element(&mut self, first: &mut bool) -> Result<bool> {
        match self.peek() {
            Some(b']') => {
                self.pos += 1;
                self.depth -= 1;
                return Ok(false);
            }
            Some(b',') if !*first => {
                self.pos += 1;
                if matches!(self.peek(), Some(b']') | None) {
                    return self.error("expected a value after `,`");
                }
            }
            Some(_) if *first => {}
            Some(_) => return self.error("expected `,` or `]` in an array"),
            None => return self.eof(),
        }
        *first = false;
        Ok(true)
    }

    /// Skips a string whose opening quote is at `self.pos`; returns whether it had
    /// escapes. Leaves `self.pos` after the closing quote.
    #[inline(always)]
    fn scan_string(&mut self) -> Result<bool> {
        match scan_string(self.bytes, self.pos) {
            Ok((end, escaped)) => {
                self.pos = end;
                Ok(escaped)
            }
            Err(bad) => self.fail(bad),
        }
    }

    /// The error a scanner reported.
    #[cold]
    #[inline(never)]
    fn fail<T>(&mut self, (at, bad): (usize, Bad)) -> Result<T> {
        self.pos = at;
        match bad {
            Bad::Expected(what) => self.error(what),
            Bad::TooDeep => self.error(format!("JSON nested deeper than {MAX_DEPTH} levels")),
        }
    }

    /// A string: borrowed when it has no escapes, decoded (by serde_json, which also
    /// rejects lone surrogates) when it has. `what` names it in the error when the
    /// value is not a string.
    pub(crate) fn string(&mut self, what: &str) -> Result<Cow<'a, str>> {
        match self.peek() {
            Some(b'"') => {}
            Some(_) => return self.error(format!("expected {what} (a JSON string)")),
            None => return self.eof(),
        }
        self.string_here()
    }

    /// The string whose opening quote is at `self.pos` (see [`string`](Self::string)).
    #[inline]
    fn string_here(&mut self) -> Result<Cow<'a, str>> {
        let start = self.pos;
        if !self.scan_string()? {
            return Ok(Cow::Borrowed(&self.text[start + 1..self.pos - 1]));
        }
        decode_escaped(&self.text[start..self.pos], start)
    }

    /// A number token (checked against the JSON grammar) and whether it is an integer
    /// (no fraction, no exponent).
    fn number(&mut self) -> Result<(&'a str, bool)> {
        let start = self.pos;
        let integer = self.skip_number()?;
        // serde_json reads `-0` as the float -0.0.
        let token = self.text.get(start..self.pos).unwrap_or_default();
        Ok((token, integer && token != "-0"))
    }

    /// Skips a number token (checked against the JSON grammar); whether it has neither
    /// fraction nor exponent.
    #[inline]
    fn skip_number(&mut self) -> Result<bool> {
        match skip_number(self.bytes, self.pos) {
            Ok((end, integer)) => {
                self.pos = end;
                Ok(integer)
            }
            Err(bad) => self.fail(bad),
        }
    }

    /// An unsigned integer, as serde reads a `u64`: an integer token in range.
    pub(crate) fn u64(&mut self, what: &str) -> Result<u64> {
        self.integer(what, "an unsigned integer")
    }

    /// A signed integer, as serde reads an `i64`: an integer token in range.
    pub(crate) fn i64(&mut self, what: &str) -> Result<i64> {
        self.integer(what, "an integer")
    }

    fn integer<T: std::str::FromStr>(&mut self, what: &str, kind: &str) -> Result<T> {
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => {}
            Some(_) => return self.error(format!("expected {what} ({kind})")),
            None => return self.eof(),
        }
        let at = self.pos;
        let (token, integer) = self.number()?;
        match token.parse::<T>() {
            Ok(n) if integer => Ok(n),
            _ => Err(JsonError::new(
                at,
                format!("expected {what} ({kind}), found `{token}`"),
            )),
        }
    }

    /// The `error` field's truthiness, as the serde reader `response::ErrorFlag` has it:
    /// any non-zero number, `true`, an object or an array, and any string other than
    /// `""`, `"0"` and `"false"` (after trimming) are truthy; `0`, `false` and `null`
    /// are not. A number beyond `f64` is an error, as in serde_json.
    pub(crate) fn error_flag(&mut self) -> Result<bool> {
        match self.peek() {
            Some(b'n') => self.literal(b"null").map(|()| false),
            Some(b't') => self.literal(b"true").map(|()| true),
            Some(b'f') => self.literal(b"false").map(|()| false),
            Some(b'"') => {
                let s = self.string("the error flag")?;
                Ok(crate::response::string_flag(&s))
            }
            Some(b'-' | b'0'..=b'9') => {
                let at = self.pos;
                let (token, _) = self.number()?;
                // serde_json's float reading, not `str::parse`: they disagree at the
                // edges (`2.4703282292062328e-324` is 0 to serde_json, 5e-324 to std;
                // `1.7976931348623158e308` is out of range to serde_json), and the
                // error-body reader uses serde_json.
                match serde_json::from_str::<f64>(token) {
                    Ok(f) if f.is_finite() => Ok(f != 0.0),
                    _ => Err(JsonError::new(at, "number out of range".to_owned())),
                }
            }
            Some(b'{' | b'[') => self.skip().map(|_| true),
            Some(_) => self.error("expected a JSON value"),
            None => self.eof(),
        }
    }

    /// Skips one value (checking it) and returns its text.
    pub(crate) fn skip(&mut self) -> Result<&'a str> {
        let start = match self.peek() {
            Some(_) => self.pos,
            None => return self.eof(),
        };
        match skip_value(self.bytes, start, self.depth) {
            Ok(end) => {
                self.pos = end;
                // A value starts and ends at an ASCII byte: both are boundaries.
                Ok(self.text.get(start..end).unwrap_or_default())
            }
            Err(bad) => self.fail(bad),
        }
    }

    /// After the top-level value: only whitespace may follow.
    pub(crate) fn end(&mut self) -> Result<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => self.error("trailing characters"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::de::IgnoredAny;

    /// The reader accepts `text` as one JSON document.
    fn ours(text: &str) -> bool {
        let mut r = Reader::new(text);
        r.skip().is_ok() && r.end().is_ok()
    }

    /// serde_json accepts it, nested at most MAX_DEPTH levels.
    fn reference(text: &str) -> bool {
        serde_json::from_str::<IgnoredAny>(text).is_ok() && depth(text) <= MAX_DEPTH
    }

    /// The deepest nesting of brackets outside strings: a byte scan kept apart from
    /// the reader on purpose, as the reference the reader is checked against.
    fn depth(text: &str) -> usize {
        let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0, false, false);
        for b in text.bytes() {
            match (in_string, escaped, b) {
                (true, true, _) => escaped = false,
                (true, false, b'\\') => escaped = true,
                (true, false, b'"') => in_string = false,
                (true, ..) => {}
                (false, _, b'"') => in_string = true,
                (false, _, b'{' | b'[') => {
                    depth += 1;
                    max = max.max(depth);
                }
                (false, _, b'}' | b']') => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        max
    }

    #[test]
    fn known_documents() {
        for (text, ok) in [
            ("{}", true),
            ("[]", true),
            (
                " {\"a\" : [1, -0, 0.5e-3, 1E+2, true, false, null, \"x\\u00e9\\n\"]} ",
                true,
            ),
            ("\"\\ud800\"", true),
            ("1e400", true),
            ("{\"a\":1,}", false),
            ("[1,]", false),
            ("[,1]", false),
            ("{,}", false),
            ("{\"a\" 1}", false),
            ("{\"a\":}", false),
            ("{1:2}", false),
            ("[1 2]", false),
            ("01", false),
            ("1.", false),
            ("-", false),
            ("1e", false),
            ("tru", false),
            ("nul", false),
            ("\"a\u{1}\"", false),
            ("\"\\x\"", false),
            ("\"\\u12G4\"", false),
            ("\"abc", false),
            ("[}", false),
            ("{]", false),
            ("{} {}", false),
            ("", false),
            ("\u{c}1", false),
        ] {
            assert_eq!(ours(text), ok, "{text:?}");
            assert_eq!(reference(text), ok, "reference disagrees on {text:?}");
        }
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(ours(&deep(MAX_DEPTH)));
        assert!(!ours(&deep(MAX_DEPTH + 1)));
        assert!(!ours(&deep(100_000)));
        let deep_objects = |n: usize| format!("{}1{}", "{\"k\":".repeat(n), "}".repeat(n));
        assert!(ours(&deep_objects(MAX_DEPTH)));
        assert!(!ours(&deep_objects(MAX_DEPTH + 1)));
    }

    #[test]
    fn typed_reads_follow_serde() {
        let num = |t: &str| Reader::new(t).u64("n");
        assert_eq!(num("18446744073709551615"), Ok(u64::MAX));
        for bad in [
            "18446744073709551616",
            "-1",
            "-0",
            "1.0",
            "1e2",
            "\"1\"",
            "null",
        ] {
            assert!(num(bad).is_err(), "{bad}");
        }
        let int = |t: &str| Reader::new(t).i64("n");
        assert_eq!(int("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(int("0"), Ok(0));
        for bad in ["9223372036854775808", "-0", "2.5", "true"] {
            assert!(int(bad).is_err(), "{bad}");
        }
        let flag = |t: &str| Reader::new(t).error_flag();
        for (t, v) in [
            ("1", true),
            ("0", false),
            ("-0", false),
            ("0.5", true),
            ("true", true),
            ("false", false),
            ("null", false),
            ("\"\"", false),
            ("\" 0 \"", false),
            ("\"false\"", false),
            ("\"yes\"", true),
            ("{}", true),
            ("[0]", true),
        ] {
            assert_eq!(flag(t), Ok(v), "{t}");
        }
        assert!(flag("1e400").is_err());
        // Found by review: read as serde_json reads it (std's parse gives 5e-324).
        assert_eq!(flag("2.4703282292062328e-324"), Ok(false));
        assert!(flag("1.7976931348623158e308").is_err());
        fn s(t: &str) -> Result<Cow<'_, str>> {
            Reader::new(t).string("s")
        }
        assert!(matches!(s("\"plain\""), Ok(Cow::Borrowed("plain"))));
        assert!(matches!(s(r#""a\"b""#), Ok(Cow::Owned(v)) if v == "a\"b"));
        assert!(
            s(r#""\ud800""#).is_err(),
            "a lone surrogate is not a readable string"
        );
    }

    fn value() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::Value;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            "[a-z\"\\\\\u{e9}\u{1f600}\n ]{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(6, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
                proptest::collection::btree_map("[a-z\"]{0,3}", inner, 0..6)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

        /// Every document serde_json writes is read back, whole.
        #[test]
        fn reads_what_serde_json_writes(v in value(), pretty in any::<bool>()) {
            let text = if pretty { serde_json::to_string_pretty(&v) } else { serde_json::to_string(&v) }.unwrap();
            let mut r = Reader::new(&text);
            prop_assert_eq!(r.skip().ok(), Some(text.as_str()));
            prop_assert!(r.end().is_ok());
        }

        /// After a few random edits the reader and serde_json (with the depth bound)
        /// still agree on whether the text is a JSON document.
        #[test]
        fn agrees_with_serde_json_on_edited_documents(
            v in value(),
            edits in proptest::collection::vec(
                (any::<proptest::sample::Index>(), 0u8..3, proptest::sample::select(
                    "{}[]\",:\\ 0-1.eE+tfnlu\u{1}a\u{e9}".chars().collect::<Vec<_>>())),
                1..4),
        ) {
            let mut chars: Vec<char> = serde_json::to_string(&v).unwrap().chars().collect();
            for (at, op, c) in edits {
                let i = at.index(chars.len() + 1);
                match op {
                    0 => chars.insert(i, c),
                    1 if i < chars.len() => { chars.remove(i); }
                    _ if i < chars.len() => chars[i] = c,
                    _ => chars.push(c),
                }
            }
            let text: String = chars.into_iter().collect();
            prop_assert_eq!(ours(&text), reference(&text), "{:?}", text);
        }

        /// The word-at-a-time stop finder finds the first stop byte, or none.
        #[test]
        fn string_stops_finds_the_first_stop(word in proptest::collection::vec(
            prop_oneof![Just(b'"'), Just(b'\\'), 0u8..0x20, any::<u8>(), 0x20u8..0x80], 8)) {
            let first = word.iter().position(|&b| STRING_STOP[usize::from(b)]);
            let stops = string_stops(u64::from_le_bytes(word.as_slice().try_into().unwrap()));
            prop_assert_eq!(first, (stops != 0).then(|| (stops.trailing_zeros() / 8) as usize));
        }

        /// Bracket soup: nesting and closers, against the same reference.
        #[test]
        fn agrees_on_bracket_soup(
            text in proptest::collection::vec(proptest::sample::select(
                vec!["[", "]", "{", "}", ",", "\"k\":", "1", " "]), 0..300)
                .prop_map(|v| v.concat()),
        ) {
            prop_assert_eq!(ours(&text), reference(&text), "{:?}", text);
        }
    }
}
