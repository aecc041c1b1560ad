//! Pages of a list (keyset pagination): where a page starts, and that position's opaque
//! form on the wire (`nextCursor` / `?cursor=`).
//!
//! A page is "the first `limit` items after the last one of the page before", in the
//! list's own order, so pages neither repeat nor skip items when rows are added or
//! removed between requests, and each page costs an index seek rather than an offset
//! scan. The cursor is the last item's sort key, tagged with the list it came from,
//! as JSON in hex: opaque to clients, and never more than the position itself (a
//! cursor read by someone else names no more than a place in the caller's own list).

use serde_json::{Value, json};
use sevenoways_sdk::Cursor;

/// The lists that are paginated; a cursor is good for the list that made it only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    /// `GET /api/instances`, oldest first.
    Instances,
    /// `GET /api/instances/{id}/groups`, by name.
    Groups,
    /// `GET /api/channels`, oldest first.
    Channels,
    /// `GET /api/schedules`, oldest first.
    Schedules,
    /// `GET /api/webhooks`, oldest first.
    Webhooks,
    /// `GET /api/webhooks/{id}/deliveries`, newest first.
    Deliveries,
    /// `GET /api/sandbox/outbox`, oldest first.
    Outbox,
}

impl ListKind {
    fn tag(self) -> &'static str {
        match self {
            Self::Instances => "instances",
            Self::Groups => "groups",
            Self::Channels => "channels",
            Self::Schedules => "schedules",
            Self::Webhooks => "webhooks",
            Self::Deliveries => "deliveries",
            Self::Outbox => "outbox",
        }
    }
}

/// The sort key of a page's last item: the next page starts after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum After {
    /// `(created_at, id)`: instances, channels, schedules and webhooks.
    Created(i64, String),
    /// `(lowercased name, group id)`: groups.
    Name(String, String),
    /// `(created_at, rowid)`, read backwards: deliveries.
    Newest(i64, i64),
    /// The queue id: the outbox.
    Seq(i64),
}

impl After {
    /// The cursor a client sends back for the page after this position in `list`.
    pub fn to_cursor(&self, list: ListKind) -> Cursor {
        let key = match self {
            Self::Created(t, id) => json!([list.tag(), t, id]),
            Self::Name(name, id) => json!([list.tag(), name, id]),
            Self::Newest(t, seq) => json!([list.tag(), t, seq]),
            Self::Seq(seq) => json!([list.tag(), seq]),
        };
        Cursor::new(hex::encode(key.to_string())).expect("hex is a valid cursor")
    }

    /// The position a cursor of `list` names; `None` for anything this server did not
    /// give out for that list.
    pub fn from_cursor(list: ListKind, cursor: &Cursor) -> Option<Self> {
        let bytes = hex::decode(cursor.as_str()).ok()?;
        let Value::Array(parts) = serde_json::from_slice(&bytes).ok()? else {
            return None;
        };
        if parts.first()?.as_str()? != list.tag() {
            return None;
        }
        let text = |i: usize| parts.get(i)?.as_str().map(str::to_owned);
        let int = |i: usize| parts.get(i)?.as_i64();
        let after = match (list, parts.len()) {
            (ListKind::Groups, 3) => Self::Name(text(1)?, text(2)?),
            (ListKind::Deliveries, 3) => Self::Newest(int(1)?, int(2)?),
            (ListKind::Outbox, 2) => Self::Seq(int(1)?),
            (
                ListKind::Instances | ListKind::Channels | ListKind::Schedules | ListKind::Webhooks,
                3,
            ) => Self::Created(int(1)?, text(2)?),
            _ => return None,
        };
        Some(after)
    }
}

/// Which page of a list to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// Items at most.
    pub limit: u32,
    /// Start after this item; the first page when `None`.
    pub after: Option<After>,
}

impl PageRequest {
    /// The first page of `limit` items.
    pub fn first(limit: u32) -> Self {
        Self { limit, after: None }
    }

    /// Rows to read for this page: one more than it holds, to learn whether another
    /// follows without a second query.
    pub(crate) fn fetch(&self) -> i64 {
        i64::from(self.limit) + 1
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items, in the list's order.
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<After>,
}

impl<T> Page<T> {
    /// A page from rows read with [`PageRequest::fetch`]: the extra row, if any, is
    /// dropped and says there is more; `key` gives the position of the last item kept.
    pub(crate) fn from_rows<R>(
        request: &PageRequest,
        mut rows: Vec<R>,
        key: impl Fn(&R) -> After,
        item: impl FnMut(R) -> Result<T, super::StoreError>,
    ) -> Result<Self, super::StoreError> {
        let more = rows.len() > request.limit as usize;
        rows.truncate(request.limit as usize);
        let next = if more { rows.last().map(key) } else { None };
        let items = rows.into_iter().map(item).collect::<Result<Vec<_>, _>>()?;
        Ok(Self { items, next })
    }

    /// The cursor of the next page, for the answer's `nextCursor`.
    pub fn next_cursor(&self, list: ListKind) -> Option<Cursor> {
        self.next.as_ref().map(|a| a.to_cursor(list))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_for_their_own_list_only() {
        for (list, after) in [
            (
                ListKind::Instances,
                After::Created(1_764_000_000_000, "number2".into()),
            ),
            (
                ListKind::Groups,
                After::Name("team \"a\" ☀".into(), "1@g.us".into()),
            ),
            (ListKind::Deliveries, After::Newest(5, 9)),
            (ListKind::Outbox, After::Seq(142)),
        ] {
            let cursor = after.to_cursor(list);
            assert_eq!(After::from_cursor(list, &cursor), Some(after.clone()));
            assert!(cursor.as_str().chars().all(|c| c.is_ascii_hexdigit()));
            let other = if list == ListKind::Outbox {
                ListKind::Instances
            } else {
                ListKind::Outbox
            };
            assert_eq!(After::from_cursor(other, &cursor), None, "{list:?}");
        }
        for junk in ["abc", "zz", "5b5d", &hex::encode("[\"instances\",\"x\",1]")] {
            let cursor = Cursor::new(junk).unwrap();
            assert_eq!(
                After::from_cursor(ListKind::Instances, &cursor),
                None,
                "{junk}"
            );
        }
    }
}
