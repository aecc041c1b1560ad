//! Pages of a list (keyset pagination): where a page starts, and that position's opaque
//! form on the wire (`nextCursor` / `?cursor=`).
//!
//! A page is "the first `limit` items after the last one of the page before", in the
//! list's own order, so pages neither repeat nor skip items when rows are added or
//! removed between requests, and each page costs an index seek rather than an offset
//! scan. The cursor is the list's name and the last item's sort key, dot-separated
//! (`instances.1764000000000.number2`; text in hex): opaque to clients, never more than
//! the position itself (a cursor read by someone else names no more than a place in the
//! caller's own list), and of a form a regular expression states exactly
//! ([`ListKind::cursor_pattern`], in the OpenAPI document), so every cursor the document
//! allows is one the server reads, and every other is a 400.

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
    /// Every paginated list.
    pub const ALL: [Self; 7] = [
        Self::Instances,
        Self::Groups,
        Self::Channels,
        Self::Schedules,
        Self::Webhooks,
        Self::Deliveries,
        Self::Outbox,
    ];

    /// The route of the list (its SDK endpoint's).
    pub fn route(self) -> &'static str {
        use sevenoways_sdk::Endpoint;
        use sevenoways_sdk::models::{channels, groups, instances, sandbox, schedules, webhooks};
        match self {
            Self::Instances => instances::ListInstances::ROUTE,
            Self::Groups => groups::ListGroups::ROUTE,
            Self::Channels => channels::ListChannels::ROUTE,
            Self::Schedules => schedules::ListSchedules::ROUTE,
            Self::Webhooks => webhooks::ListWebhooks::ROUTE,
            Self::Deliveries => webhooks::ListDeliveries::ROUTE,
            Self::Outbox => sandbox::GetOutbox::ROUTE,
        }
    }

    /// The form of this list's cursors, as the OpenAPI document states it: the list's
    /// name, then the position (numbers, an id, or text in lowercase hex), dot-separated.
    /// [`After::from_cursor`] accepts exactly these.
    pub fn cursor_pattern(self) -> String {
        const NUMBER: &str = "[0-9]{1,18}";
        const HEX: &str = "(?:[0-9a-f]{2})*";
        let position = match self {
            Self::Outbox => NUMBER.to_owned(),
            Self::Deliveries => format!("{NUMBER}\\.{NUMBER}"),
            Self::Groups => format!("{HEX}\\.{HEX}"),
            Self::Instances | Self::Channels | Self::Schedules | Self::Webhooks => {
                format!("{NUMBER}\\.[A-Za-z0-9_.-]{{1,64}}")
            }
        };
        format!("^{}\\.{position}$", self.tag())
    }

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
        let tag = list.tag();
        let key = match self {
            Self::Created(t, id) => format!("{tag}.{t}.{id}"),
            Self::Name(name, id) => format!("{tag}.{}.{}", hex::encode(name), hex::encode(id)),
            Self::Newest(t, seq) => format!("{tag}.{t}.{seq}"),
            Self::Seq(seq) => format!("{tag}.{seq}"),
        };
        Cursor::exact(key).expect("a position is a valid cursor")
    }

    /// The position a cursor of `list` names; `None` for anything not of that list's
    /// form ([`ListKind::cursor_pattern`], which this reads exactly: every string the
    /// pattern matches names a position, and nothing else does).
    pub fn from_cursor(list: ListKind, cursor: &Cursor) -> Option<Self> {
        let rest = cursor
            .as_str()
            .strip_prefix(list.tag())?
            .strip_prefix('.')?;
        let after = match list {
            ListKind::Outbox => Self::Seq(number(rest)?),
            ListKind::Deliveries => {
                let (t, seq) = rest.split_once('.')?;
                Self::Newest(number(t)?, number(seq)?)
            }
            ListKind::Groups => {
                let (name, id) = rest.split_once('.')?;
                Self::Name(text(name)?, text(id)?)
            }
            ListKind::Instances | ListKind::Channels | ListKind::Schedules | ListKind::Webhooks => {
                let (t, id) = rest.split_once('.')?;
                let token = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.');
                if id.is_empty() || id.len() > 64 || !id.bytes().all(token) {
                    return None;
                }
                Self::Created(number(t)?, id.to_owned())
            }
        };
        Some(after)
    }
}

/// `[0-9]{1,18}`: always an `i64`.
fn number(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 18 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `([0-9a-f]{2})*`, read as text (a position needs no valid UTF-8: anything is a place to
/// start after).
fn text(s: &str) -> Option<String> {
    if !s
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let bytes = hex::decode(s).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
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

    /// The longest group name (100 four-byte characters) still makes a cursor.
    #[test]
    fn the_longest_position_fits_in_a_cursor() {
        let name = "𝒜".repeat(100);
        let id = format!("{}@g.us", "1".repeat(64));
        let after = After::Name(name, id);
        let cursor = after.to_cursor(ListKind::Groups);
        assert_eq!(After::from_cursor(ListKind::Groups, &cursor), Some(after));
    }

    /// The document's pattern and the server's reading agree, string for string.
    #[test]
    fn the_cursor_pattern_is_the_check() {
        let seeds = [
            "instances.1764000000000.number2",
            "groups.7465616d.31406722e7573",
            "groups.7465616d.3140672e7573",
            "groups..",
            "deliveries.5.9",
            "outbox.142",
            "outbox.0000000000000000001",
            "webhooks.1.wh_1.a",
            "channels.12.-",
            "schedules.1234567890123456789.x",
            "instances.1.",
            "instances..x",
            "outbox.",
            "outbox.1.2",
            "deliveries.1",
            "groups.7G.00",
            "groups.AB.00",
            "groups.abc.00",
        ];
        let mut candidates: Vec<String> = seeds.iter().map(|s| (*s).to_owned()).collect();
        for seed in seeds {
            for i in 0..seed.len() {
                candidates.push(format!("{}{}", &seed[..i], &seed[i + 1..]));
                for c in ['0', 'a', 'F', '.', '_', '~'] {
                    candidates.push(format!("{}{c}{}", &seed[..i], &seed[i + 1..]));
                }
            }
        }
        for list in ListKind::ALL {
            let pattern = regex::Regex::new(&list.cursor_pattern()).unwrap();
            for c in &candidates {
                let Ok(cursor) = Cursor::exact(c) else {
                    continue;
                };
                assert_eq!(
                    pattern.is_match(c),
                    After::from_cursor(list, &cursor).is_some(),
                    "{list:?} {c:?}"
                );
            }
        }
    }
}
