//! Paging through a collection by `@odata.nextLink` (graph/paging): the link is absolute and
//! opaque; it is followed only to the host of the first request, so a tampered answer cannot
//! send our bearer token elsewhere.

use serde_json::Value;
use url::Url;

use super::Connection;
use crate::error::{Error, Result};

pub struct Pager {
    connection: Connection,
    next: Option<Url>,
    origin: Url,
}

impl Pager {
    pub(super) fn new(connection: Connection, first: Url) -> Result<Self> {
        Ok(Pager {
            connection,
            origin: first.clone(),
            next: Some(first),
        })
    }

    /// The next page's items (`value`), or `None` after the last page.
    pub async fn next_page(&mut self) -> Option<Result<Vec<Value>>> {
        let url = self.next.take()?;
        Some(self.fetch(url).await)
    }

    async fn fetch(&mut self, url: Url) -> Result<Vec<Value>> {
        let page = self.connection.get(url.as_str()).await?.json()?;
        if let Some(link) = page.get("@odata.nextLink").and_then(Value::as_str) {
            let next =
                Url::parse(link).map_err(|_| Error::protocol("`@odata.nextLink` is not a URL"))?;
            if next.origin() != self.origin.origin() {
                return Err(Error::protocol(
                    "`@odata.nextLink` points to another host; not following it with our token",
                ));
            }
            self.next = Some(next);
        }
        match page.get("value") {
            Some(Value::Array(items)) => Ok(items.clone()),
            _ => Err(Error::protocol("a collection page without a `value` array")),
        }
    }

    /// Every item of every page, stopping after `max_items`.
    pub async fn collect_all(mut self, max_items: usize) -> Result<Vec<Value>> {
        let mut items = Vec::new();
        while items.len() < max_items {
            match self.next_page().await {
                Some(page) => items.extend(page?),
                None => break,
            }
        }
        items.truncate(max_items);
        Ok(items)
    }
}
