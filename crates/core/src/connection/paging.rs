//! Paging through a collection by `@odata.nextLink` (https://learn.microsoft.com/graph/paging):
//! the link is absolute and opaque, used as it is. It is followed only to the scheme, host and
//! port of the first request, so a tampered or misdirected answer cannot make us send the
//! bearer token elsewhere.

use futures_util::stream::{self, Stream};
use serde_json::Value;
use url::Url;

use super::{Connection, api_error};
use crate::error::{Error, Result};

/// Pages of one collection, from the first URL to the page without a next link.
pub struct Pager {
    connection: Connection,
    next: Option<Url>,
    origin: url::Origin,
}

impl Pager {
    pub(super) fn new(connection: Connection, first: Url) -> Self {
        Pager {
            connection,
            origin: first.origin(),
            next: Some(first),
        }
    }

    /// The next page's items (`value`), or `None` after the last page. After an error the
    /// pager is finished.
    pub async fn next_page(&mut self) -> Option<Result<Vec<Value>>> {
        let url = self.next.take()?;
        Some(self.fetch(url).await)
    }

    async fn fetch(&mut self, url: Url) -> Result<Vec<Value>> {
        let answer = self.connection.get(url.as_str()).await?;
        // With `raise_http_errors` off the error answer comes back; a pager has no use for it.
        if !answer.is_success() {
            return Err(api_error::from_response(&answer));
        }
        let page = answer.json()?;
        self.next = next_link(&page, &self.origin)?;
        match page.get("value") {
            Some(Value::Array(items)) => Ok(items.clone()),
            _ => Err(Error::protocol("a collection page without a `value` array")),
        }
    }

    /// The pages as a stream, ending after the last page or the first error.
    pub fn into_stream(self) -> impl Stream<Item = Result<Vec<Value>>> + Send {
        stream::unfold(Some(self), |pager| async move {
            let mut pager = pager?;
            match pager.next_page().await? {
                Ok(items) => Some((Ok(items), Some(pager))),
                Err(error) => Some((Err(error), None)),
            }
        })
    }

    /// Every item of every page, stopping after `max_items` (no page is fetched beyond it).
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

/// The page's `@odata.nextLink`, if it has one and it stays on `origin`.
fn next_link(page: &Value, origin: &url::Origin) -> Result<Option<Url>> {
    let Some(link) = page.get("@odata.nextLink") else {
        return Ok(None);
    };
    let next = link
        .as_str()
        .and_then(|link| Url::parse(link).ok())
        .ok_or_else(|| Error::protocol("`@odata.nextLink` is not an absolute URL"))?;
    if &next.origin() != origin {
        return Err(Error::protocol(
            "`@odata.nextLink` points to another host; not following it with our token",
        ));
    }
    Ok(Some(next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn origin() -> url::Origin {
        Url::parse("https://graph.microsoft.com/v1.0/users")
            .unwrap()
            .origin()
    }

    #[test]
    fn next_links_are_followed_only_to_the_first_host() {
        let same =
            json!({"@odata.nextLink": "https://graph.microsoft.com/v1.0/users?$skiptoken=X"});
        assert_eq!(
            next_link(&same, &origin()).unwrap().unwrap().as_str(),
            "https://graph.microsoft.com/v1.0/users?$skiptoken=X"
        );
        assert_eq!(next_link(&json!({"value": []}), &origin()).unwrap(), None);
        for elsewhere in [
            "https://evil.example/v1.0/users?$skiptoken=X",
            "http://graph.microsoft.com/v1.0/users",
            "https://graph.microsoft.com:8443/v1.0/users",
            "https://graph.microsoft.com.evil.example/v1.0/users",
        ] {
            let page = json!({ "@odata.nextLink": elsewhere });
            assert_eq!(
                next_link(&page, &origin()).unwrap_err().code(),
                "protocol",
                "{elsewhere}"
            );
        }
        for broken in [
            json!({"@odata.nextLink": "users?$skip=10"}),
            json!({"@odata.nextLink": 3}),
        ] {
            assert!(next_link(&broken, &origin()).is_err());
        }
    }
}
