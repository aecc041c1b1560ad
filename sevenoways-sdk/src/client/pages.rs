//! Walking a list a page at a time ([`Client::pages`]) or whole ([`Client::list_all`]).

use super::Client;
use crate::error::{Error, Result};
use crate::page::{MAX_PAGE_SIZE, Page, PageSize, Paginated};

impl Client {
    /// The pages of a list, starting at `first` (its `page` says the size and where to
    /// start), fetched one request at a time as [`Pages::next`] is called.
    ///
    /// ```no_run
    /// use sevenoways_sdk::models::webhooks::ListDeliveries;
    /// use sevenoways_sdk::page::PageParams;
    /// # async fn run(client: sevenoways_sdk::Client) -> Result<(), sevenoways_sdk::Error> {
    /// let first = ListDeliveries { id: "wh_1".parse()?, page: PageParams::limit(200)? };
    /// let mut pages = client.pages(first);
    /// while let Some(page) = pages.next().await? {
    ///     let failed = page.deliveries.iter().filter(|d| d.status == "failed").count();
    ///     println!("{failed} failed on this page");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn pages<E: Paginated>(&self, first: E) -> Pages<'_, E> {
        Pages {
            client: self,
            next: Some(first),
        }
    }

    /// Every item of a list from `first` on, in one answer: the pages are fetched in turn
    /// and their items appended (the answer's `next_cursor` is then `None`).
    ///
    /// ```no_run
    /// use sevenoways_sdk::models::schedules::ListSchedules;
    /// # async fn run(client: sevenoways_sdk::Client) -> Result<(), sevenoways_sdk::Error> {
    /// let all = client.list_all(ListSchedules { page: Default::default() }).await?;
    /// println!("{} schedules", all.schedules.len());
    /// # Ok(()) }
    /// ```
    pub async fn list_all<E: Paginated>(&self, first: E) -> Result<E::Response> {
        let mut pages = self.pages(first);
        let mut all = pages
            .next()
            .await?
            .expect("the first page is always fetched");
        while let Some(page) = pages.next().await? {
            all.append(page);
        }
        Ok(all)
    }

    /// The first `max_items` items of a list from `first` on (fewer if the list is
    /// shorter), in one answer. Pages are asked for no larger than what is still wanted,
    /// so the answer's `next_cursor` continues right after its last item, or is `None`
    /// when the list ended.
    ///
    /// ```no_run
    /// use sevenoways_sdk::models::webhooks::ListDeliveries;
    /// # async fn run(client: sevenoways_sdk::Client) -> Result<(), sevenoways_sdk::Error> {
    /// let first = ListDeliveries { id: "wh_1".parse()?, page: Default::default() };
    /// let latest = client.list_at_most(first, 250).await?;
    /// assert!(latest.deliveries.len() <= 250);
    /// # Ok(()) }
    /// ```
    pub async fn list_at_most<E: Paginated>(
        &self,
        first: E,
        max_items: u32,
    ) -> Result<E::Response> {
        let mut request = first;
        let mut all: Option<E::Response> = None;
        loop {
            let got = all.as_ref().map_or(0, |a| a.items().len());
            let wanted = (max_items as usize).saturating_sub(got);
            if wanted == 0 && all.is_some() {
                break;
            }
            let size = wanted.min(MAX_PAGE_SIZE as usize) as u32;
            request.page_mut().limit = Some(PageSize::new(size)?);
            let sent = request.page().cursor.clone();
            let page = self.call(&request).await?;
            let next = page.next_cursor().cloned();
            match &mut all {
                Some(all) => all.append(page),
                None => all = Some(page),
            }
            match next {
                Some(cursor) if sent.as_ref() == Some(&cursor) => return Err(stuck::<E>()),
                Some(cursor) => request.page_mut().cursor = Some(cursor),
                None => break,
            }
        }
        Ok(all.expect("the first page is always fetched"))
    }
}

/// A server that answers a page with the cursor it was asked for would make a walk loop
/// for ever; that answer is an error instead.
fn stuck<E: Paginated>() -> Error {
    Error::Api {
        status: 200,
        message: format!(
            "{} answered its own cursor as nextCursor: the list cannot advance",
            E::ROUTE
        ),
        retry_after: None,
    }
}

/// The pages of a list; see [`Client::pages`].
#[derive(Debug)]
pub struct Pages<'a, E> {
    client: &'a Client,
    next: Option<E>,
}

impl<E: Paginated> Pages<'_, E> {
    /// The next page, or `None` after the last one.
    ///
    /// A server that answers a page with the cursor it was asked for would make this loop
    /// for ever; that answer is an [`Error::Api`] instead.
    pub async fn next(&mut self) -> Result<Option<E::Response>> {
        let Some(request) = self.next.take() else {
            return Ok(None);
        };
        let page = self.client.call(&request).await?;
        if let Some(cursor) = page.next_cursor() {
            if request.page().cursor.as_ref() == Some(cursor) {
                return Err(stuck::<E>());
            }
            let mut following = request;
            following.page_mut().cursor = Some(cursor.clone());
            self.next = Some(following);
        }
        Ok(Some(page))
    }
}
