//! `?limit=` and `?cursor=` of every list endpoint (see [`sevenoways_sdk::page`]).

use sevenoways_sdk::PageParams;
use sevenoways_sdk::page::DEFAULT_PAGE_SIZE;

use crate::error::ApiError;
use crate::store::{After, ListKind, Page, PageRequest};

/// The page parameters of a list asked for with text (the console's links), read as the
/// API reads `?limit=` and `?cursor=`: a bad value is the same 400 naming it.
pub fn page_params(limit: Option<String>, cursor: Option<String>) -> Result<PageParams, ApiError> {
    Ok(PageParams {
        limit: limit
            .map(|l| serde_json::from_value(serde_json::Value::String(l)))
            .transpose()
            .map_err(|e| ApiError::BadRequest(format!("limit: {e}")))?,
        cursor: cursor.map(sevenoways_sdk::Cursor::exact).transpose()?,
    })
}

/// The page of `list` the query asks for: [`DEFAULT_PAGE_SIZE`] items from the start
/// unless it says otherwise. The query was read exactly (`limit` digits only, `cursor`
/// URL-safe characters); a cursor not of `list`'s form is a 400 naming `cursor`.
pub fn request(q: &PageParams, list: ListKind) -> Result<PageRequest, ApiError> {
    let limit = q.limit.as_ref().map_or(DEFAULT_PAGE_SIZE, |l| l.get());
    let after = match &q.cursor {
        Some(cursor) => Some(After::from_cursor(list, cursor).ok_or_else(|| {
            ApiError::BadRequest(
                "cursor: expected the nextCursor of an earlier page of this list, as given \
                 (start again without a cursor)"
                    .into(),
            )
        })?),
        None => None,
    };
    Ok(PageRequest { limit, after })
}

/// The items of a page and the answer's `nextCursor`.
pub fn parts<T>(page: Page<T>, list: ListKind) -> (Vec<T>, Option<sevenoways_sdk::Cursor>) {
    let next = page.next_cursor(list);
    (page.items, next)
}
