//! `?limit=` and `?cursor=` of every list endpoint (see [`sevenoways_sdk::page`]).

use serde::Deserialize;
use sevenoways_sdk::page::DEFAULT_PAGE_SIZE;
use sevenoways_sdk::{Cursor, PageSize};

use crate::error::ApiError;
use crate::store::{After, ListKind, Page, PageRequest};

/// The page parameters of a list request, as sent. Checked by [`PageQuery::request`], so
/// a bad value is a 400 naming `limit` or `cursor` with what was expected.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    limit: Option<String>,
    cursor: Option<String>,
}

impl PageQuery {
    /// The parameters of a query that has others besides (`?instanceId=`).
    pub fn new(limit: Option<String>, cursor: Option<String>) -> Self {
        Self { limit, cursor }
    }

    /// The page of `list` asked for: [`DEFAULT_PAGE_SIZE`] items from the start unless
    /// the query says otherwise.
    pub fn request(&self, list: ListKind) -> Result<PageRequest, ApiError> {
        let limit = match &self.limit {
            Some(raw) => raw.parse::<PageSize>()?.get(),
            None => DEFAULT_PAGE_SIZE,
        };
        let after = match &self.cursor {
            Some(raw) => {
                let cursor = Cursor::new(raw)?;
                Some(After::from_cursor(list, &cursor).ok_or_else(|| {
                    ApiError::BadRequest(
                        "cursor: expected the nextCursor of an earlier page of this list, as given \
                         (start again without a cursor)"
                            .into(),
                    )
                })?)
            }
            None => None,
        };
        Ok(PageRequest { limit, after })
    }
}

/// The items of a page and the answer's `nextCursor`.
pub fn parts<T>(page: Page<T>, list: ListKind) -> (Vec<T>, Option<Cursor>) {
    let next = page.next_cursor(list);
    (page.items, next)
}
