//! The admin token (`--admin-token`, [`EmulatorConfig::admin_token`](crate::EmulatorConfig::admin_token)):
//! admin requests must carry `Authorization: Bearer TOKEN`. It never appears in
//! `Debug` output, an error or a response.

use std::fmt;
use std::str::FromStr;

/// A secret that guards the admin API. `Debug` shows `AdminToken(***)`.
///
/// ```
/// use presence_emulator::AdminToken;
/// let t: AdminToken = "s3cret".parse().unwrap();
/// assert!(t.accepts("Bearer s3cret") && t.accepts("bearer s3cret"));
/// assert!(!t.accepts("Bearer s3cre") && !t.accepts("s3cret"));
/// assert_eq!(format!("{t:?}"), "AdminToken(***)");
/// assert!("".parse::<AdminToken>().is_err());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct AdminToken(String);

/// An empty admin token was given (it would guard nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmptyAdminToken;

impl fmt::Display for EmptyAdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the admin token is empty")
    }
}

impl std::error::Error for EmptyAdminToken {}

impl AdminToken {
    /// A token; `None` when it is empty.
    pub fn new(token: impl Into<String>) -> Option<AdminToken> {
        let token = token.into();
        (!token.is_empty()).then_some(AdminToken(token))
    }

    /// Whether an `Authorization` header value carries this token
    /// (`Bearer TOKEN`, the scheme in any case). Compared in constant time.
    pub fn accepts(&self, authorization: &str) -> bool {
        let Some((scheme, given)) = authorization.trim().split_once(' ') else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return false;
        }
        let (a, b) = (given.trim().as_bytes(), self.0.as_bytes());
        // Length is not secret; the bytes are compared without an early exit.
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl FromStr for AdminToken {
    type Err = EmptyAdminToken;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AdminToken::new(s).ok_or(EmptyAdminToken)
    }
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(***)")
    }
}
