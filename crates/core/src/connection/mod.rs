//! HTTP to Graph and other protocols: throttling, retries, Retry-After, refresh on expiry and on 401, paging.
