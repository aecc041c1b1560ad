//! Client-side validation: the error every constructor and [`Validate`] impl returns.

use std::borrow::Cow;
use std::fmt;

/// A value that the API would refuse, caught before any request is sent.
///
/// `field` is the documented JSON field name (`phone`, `groupIds[1]`, `cronExpr`, ...)
/// and `reason` says what was expected. The server answers the same text inside its
/// `{"success":false,"error":"..."}` envelope, so both sides read alike.
///
/// ```
/// use sevenoways_sdk::Phone;
/// let err = Phone::new("12ab").unwrap_err();
/// assert_eq!(err.field(), "phone");
/// assert!(err.to_string().starts_with("phone: "));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    field: Cow<'static, str>,
    reason: String,
}

impl ValidationError {
    /// A validation error for `field` with a reason that says what was expected.
    pub fn new(field: impl Into<Cow<'static, str>>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The documented field name, e.g. `phone` or `groupIds[0]`.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// What was expected.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The same error for a field nested under `parent` (`groupIds` + `[1]`).
    pub fn within(self, parent: &str) -> Self {
        let field = if self.field.starts_with('[') {
            format!("{parent}{}", self.field)
        } else {
            format!("{parent}.{}", self.field)
        };
        Self {
            field: field.into(),
            reason: self.reason,
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

impl std::error::Error for ValidationError {}

/// Rules that span more than one field (a group send needs exactly one way of choosing
/// groups, a document needs a filename, ...). Newtypes check their own value when built;
/// `validate` checks the rest. The client calls it before sending, the server after parsing.
pub trait Validate {
    /// `Ok(())` when the API would accept this value.
    fn validate(&self) -> Result<(), ValidationError>;
}

/// The characters Rust's [`char::is_whitespace`] (Unicode `White_Space`) counts, as a
/// regular-expression class body that ECMAScript, Python and Rust read alike. The server
/// decides "only white space" with `char::is_whitespace`; documents say it with this.
#[cfg(feature = "schema")]
pub(crate) const WHITE_SPACE: &str =
    "\\t-\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";

/// A pattern (unanchored) met by text with at least one character that is not white space.
#[cfg(feature = "schema")]
pub(crate) const VISIBLE: &str =
    "[^\\t-\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
