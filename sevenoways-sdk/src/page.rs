//! Pagination: every list endpoint answers one page at a time.
//!
//! A list takes `?limit=` (how many items, [`DEFAULT_PAGE_SIZE`] when left out, at most
//! [`MAX_PAGE_SIZE`]) and `?cursor=` (where to start: the `nextCursor` of the page
//! before). Its answer keeps the documented field (`instances`, `channels`, ...) and adds
//! `nextCursor` while there is more; the last page has none. Cursors are opaque: pass them
//! back as they came, and do not build or keep them (a cursor says where a page starts,
//! not what it holds).
//!
//! With the client, [`Client::pages`](crate::Client::pages) walks the pages and
//! [`Client::list_all`](crate::Client::list_all) collects every item; the resource handles
//! (`client.instances().list()`, ...) fetch every page for you:
//!
//! ```no_run
//! use sevenoways_sdk::models::instances::ListInstances;
//! use sevenoways_sdk::page::PageParams;
//! # async fn run(client: sevenoways_sdk::Client) -> Result<(), sevenoways_sdk::Error> {
//! // Every instance, however many pages that takes.
//! let all = client.instances().list().await?.instances;
//! // Or page by page, 50 at a time.
//! let mut pages = client.pages(ListInstances { page: PageParams::limit(50)? });
//! while let Some(page) = pages.next().await? {
//!     for instance in &page.instances {
//!         println!("{}", instance.instance_id);
//!     }
//! }
//! # Ok(()) }
//! ```

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::endpoint::Endpoint;
use crate::validation::ValidationError;

/// Items per page when `limit` is left out.
pub const DEFAULT_PAGE_SIZE: u32 = 100;
/// The largest `limit` a list accepts.
pub const MAX_PAGE_SIZE: u32 = 1000;
/// The longest cursor accepted: the longest the server makes (a group list's, after a
/// 100-character name) is under 1,000.
pub const MAX_CURSOR_CHARS: usize = 1024;

/// A page size (`limit`): 1 to [`MAX_PAGE_SIZE`].
///
/// ```
/// use sevenoways_sdk::page::PageSize;
/// assert_eq!(PageSize::new(50)?.get(), 50);
/// assert_eq!("250".parse::<PageSize>()?.get(), 250);
/// assert!(PageSize::new(0).is_err());
/// assert!("1001".parse::<PageSize>().unwrap_err().to_string().starts_with("limit: "));
/// # Ok::<(), sevenoways_sdk::ValidationError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct PageSize {
    n: u32,
    // Kept as text as well: a query parameter borrows its value from the endpoint.
    text: String,
}

impl PageSize {
    /// A page of `n` items; `n` must be 1 to [`MAX_PAGE_SIZE`].
    pub fn new(n: u32) -> Result<Self, ValidationError> {
        if n == 0 || n > MAX_PAGE_SIZE {
            return Err(Self::refused(&n.to_string()));
        }
        Ok(Self {
            n,
            text: n.to_string(),
        })
    }

    /// The number of items.
    pub fn get(&self) -> u32 {
        self.n
    }

    /// As sent in the query.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn refused(got: &str) -> ValidationError {
        ValidationError::new(
            "limit",
            format!("expected a whole number from 1 to {MAX_PAGE_SIZE}, got {got:?}"),
        )
    }
}

impl std::str::FromStr for PageSize {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, ValidationError> {
        let n: u32 = s.trim().parse().map_err(|_| Self::refused(s))?;
        Self::new(n).map_err(|_| Self::refused(s))
    }
}

impl Default for PageSize {
    fn default() -> Self {
        Self::new(DEFAULT_PAGE_SIZE).expect("the default is in range")
    }
}

impl fmt::Display for PageSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Read exactly: decimal digits and nothing else (`?limit=50`), or a JSON number.
impl<'de> Deserialize<'de> for PageSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let refused = |got: &str| D::Error::custom(Self::refused(got).reason().to_owned());
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s)
                if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) =>
            {
                s.parse::<u32>()
                    .ok()
                    .and_then(|n| Self::new(n).ok())
                    .ok_or_else(|| refused(&s))
            }
            serde_json::Value::Number(n) => n
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .and_then(|n| Self::new(n).ok())
                .ok_or_else(|| refused(&n.to_string())),
            serde_json::Value::String(s) => Err(refused(&s)),
            other => Err(refused(&other.to_string())),
        }
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for PageSize {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PageSize".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_PAGE_SIZE,
            "default": DEFAULT_PAGE_SIZE,
            "description": "Items per page."
        })
    }
}

/// Where a page starts: a list answer's `nextCursor`, passed back as `?cursor=`.
///
/// Opaque; only its form is checked here (1 to [`MAX_CURSOR_CHARS`] URL-safe characters).
/// The server refuses one it did not give out for that list with a 400 naming `cursor`.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Cursor(String);

impl Cursor {
    /// Checks the form of a cursor, after trimming surrounding white space (as pasted).
    pub fn new(value: impl AsRef<str>) -> Result<Self, ValidationError> {
        Self::exact(value.as_ref().trim())
    }

    /// Checks the form of a cursor exactly as given, as the server reads one.
    pub fn exact(value: impl AsRef<str>) -> Result<Self, ValidationError> {
        let value = value.as_ref();
        let url_safe = |c: char| c.is_ascii_alphanumeric() || "-_.~".contains(c);
        if value.is_empty() || value.len() > MAX_CURSOR_CHARS || !value.chars().all(url_safe) {
            let shown: String = value.chars().take(40).collect();
            return Err(ValidationError::new(
                "cursor",
                format!("expected the nextCursor of an earlier page, as given, got {shown:?}"),
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// The cursor as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Cursor {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, ValidationError> {
        Self::new(s)
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Cursor {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for Cursor {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Cursor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::exact(raw).map_err(|e| serde::de::Error::custom(e.reason().to_owned()))
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for Cursor {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Cursor".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[A-Za-z0-9._~-]{1,1024}$",
            "description": "Opaque: pass it back as ?cursor= for the next page."
        })
    }
}

/// `?limit=` and `?cursor=` of a list request. The default asks for the first page of
/// [`DEFAULT_PAGE_SIZE`] items. The server reads a list's query into it, exactly
/// (`?limit=%2050` is a 400 naming `limit`).
#[derive(Clone, Default, PartialEq, Eq, Debug, Deserialize)]
pub struct PageParams {
    /// Items per page; the server's default ([`DEFAULT_PAGE_SIZE`]) when `None`.
    #[serde(default)]
    pub limit: Option<PageSize>,
    /// Where to start; the first page when `None`.
    #[serde(default)]
    pub cursor: Option<Cursor>,
}

impl PageParams {
    /// The first page, `n` items long.
    pub fn limit(n: u32) -> Result<Self, ValidationError> {
        Ok(Self {
            limit: Some(PageSize::new(n)?),
            cursor: None,
        })
    }

    /// The same size, starting at `cursor`.
    pub fn after(mut self, cursor: Cursor) -> Self {
        self.cursor = Some(cursor);
        self
    }

    /// The query pairs, unencoded; nothing for the defaults.
    pub fn query(&self) -> Vec<(&'static str, &str)> {
        let mut q = Vec::new();
        if let Some(limit) = &self.limit {
            q.push(("limit", limit.as_str()));
        }
        if let Some(cursor) = &self.cursor {
            q.push(("cursor", cursor.as_str()));
        }
        q
    }
}

/// A list answer: its items and, while there are more, the cursor of the next page.
///
/// `Send`, so that a call answering one can be awaited on any runtime thread.
pub trait Page: Sized + Send {
    /// What the list holds.
    type Item;
    /// The next page's cursor; `None` on the last page.
    fn next_cursor(&self) -> Option<&Cursor>;
    /// This page's items.
    fn items(&self) -> &[Self::Item];
    /// Adds the items of the page after this one, and takes its cursor.
    fn append(&mut self, next: Self);
}

/// A list request: an [`Endpoint`] whose answer is a [`Page`] and which can ask for the
/// page after it.
pub trait Paginated: Endpoint<Response: Page> + Clone {
    /// Its page parameters.
    fn page(&self) -> &PageParams;
    /// Its page parameters, to change.
    fn page_mut(&mut self) -> &mut PageParams;
}

/// Adds `limit` and `cursor` to the query schema `base` (an object schema with the list's
/// other parameters, or `{}`).
#[cfg(feature = "schema")]
pub fn query_schema(
    generator: &mut schemars::SchemaGenerator,
    base: Option<schemars::Schema>,
) -> schemars::Schema {
    let mut schema = base.unwrap_or_else(|| schemars::json_schema!({"type": "object"}));
    let limit = <PageSize as schemars::JsonSchema>::json_schema(generator).to_value();
    let cursor = <Cursor as schemars::JsonSchema>::json_schema(generator).to_value();
    let props = schema
        .ensure_object()
        .entry("properties")
        .or_insert_with(|| serde_json::json!({}));
    if let Some(props) = props.as_object_mut() {
        props.insert("limit".into(), limit);
        props.insert("cursor".into(), cursor);
    }
    schema
}

/// Implements [`Page`] for a list answer with one list field and `next_cursor`.
macro_rules! page_of {
    ($list:ty, $field:ident : $item:ty) => {
        impl $crate::page::Page for $list {
            type Item = $item;

            fn next_cursor(&self) -> Option<&$crate::page::Cursor> {
                self.next_cursor.as_ref()
            }

            fn items(&self) -> &[$item] {
                &self.$field
            }

            fn append(&mut self, next: Self) {
                self.$field.extend(next.$field);
                self.next_cursor = next.next_cursor;
            }
        }
    };
}

/// A `GET` list operation: the struct (its path parameters, one per `{…}` of the route
/// in order, and `page`), its [`Endpoint`] (`?limit=&cursor=` in the query) and
/// [`Paginated`] impls. Without path parameters it is also `Default` (the first page).
macro_rules! list_endpoint {
    (
        $(#[$doc:meta])*
        $name:ident {} => $route:literal -> $response:ty $({ $($meta:tt)* })?
    ) => {
        list_endpoint!(@def [Default] $(#[$doc])* $name {} => $route -> $response
            $({ $($meta)* })?);
    };
    (
        $(#[$doc:meta])*
        $name:ident { $( $(#[$fdoc:meta])* $field:ident : $ty:ty ),* $(,)? }
        => $route:literal -> $response:ty $({ $($meta:tt)* })?
    ) => {
        list_endpoint!(@def [] $(#[$doc])* $name { $( $(#[$fdoc])* $field : $ty ),* }
            => $route -> $response $({ $($meta)* })?);
    };
    (
        @def [$($derive:ident)?]
        $(#[$doc:meta])*
        $name:ident { $( $(#[$fdoc:meta])* $field:ident : $ty:ty ),* }
        => $route:literal -> $response:ty $({ $($meta:tt)* })?
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq $(, $derive)?)]
        pub struct $name {
            $( $(#[$fdoc])* pub $field: $ty, )*
            /// `?limit=` and `?cursor=`; the first page of the default size by default.
            pub page: $crate::page::PageParams,
        }

        impl $crate::endpoint::Endpoint for $name {
            const METHOD: $crate::endpoint::Method = $crate::endpoint::Method::Get;
            const ROUTE: &'static str = $route;
            type Body = $crate::endpoint::NoBody;
            type Response = $response;

            fn path(&self) -> std::borrow::Cow<'_, str> {
                std::borrow::Cow::Owned($crate::endpoint::fill_route(
                    Self::ROUTE,
                    &[$( AsRef::<str>::as_ref(&self.$field) ),*],
                ))
            }

            fn query(&self) -> Vec<(&'static str, &str)> {
                self.page.query()
            }

            fn body(&self) -> Option<&$crate::endpoint::NoBody> {
                None
            }

            #[cfg(feature = "schema")]
            fn path_schemas(
                generator: &mut schemars::SchemaGenerator,
            ) -> Option<Vec<schemars::Schema>> {
                let _ = &generator; // lists without path parameters use none
                Some(vec![$( generator.subschema_for::<$ty>() ),*])
            }

            #[cfg(feature = "schema")]
            fn query_schema(generator: &mut schemars::SchemaGenerator) -> Option<schemars::Schema> {
                Some($crate::page::query_schema(generator, None))
            }

            $( $crate::endpoint::endpoint_meta!($($meta)*); )?
        }

        impl $crate::page::Paginated for $name {
            fn page(&self) -> &$crate::page::PageParams {
                &self.page
            }

            fn page_mut(&mut self) -> &mut $crate::page::PageParams {
                &mut self.page
            }
        }
    };
}

pub(crate) use {list_endpoint, page_of};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_and_cursors_are_checked_with_their_field_names() {
        assert_eq!(PageSize::default().get(), DEFAULT_PAGE_SIZE);
        assert_eq!(PageSize::new(MAX_PAGE_SIZE).unwrap().as_str(), "1000");
        for bad in ["0", "1001", "-1", "ten", "", "1.5"] {
            let err = bad.parse::<PageSize>().unwrap_err();
            assert_eq!(err.field(), "limit", "{bad}");
            assert!(err.reason().contains("1 to 1000"), "{err}");
        }
        assert_eq!(Cursor::new(" ab-_.~9 ").unwrap().as_str(), "ab-_.~9");
        assert_eq!(Cursor::exact(" ab").unwrap_err().field(), "cursor");
        for bad in ["", "a b", "a/b", "ä", &"x".repeat(MAX_CURSOR_CHARS + 1)] {
            assert_eq!(Cursor::new(bad).unwrap_err().field(), "cursor", "{bad}");
        }
        let q = PageParams::limit(5)
            .unwrap()
            .after(Cursor::new("c1").unwrap());
        assert_eq!(q.query(), [("limit", "5"), ("cursor", "c1")]);
        assert!(PageParams::default().query().is_empty());
    }
}
