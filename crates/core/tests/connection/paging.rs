//! Paging through `@odata.nextLink` to the end, capped, as a stream, and never to another host.

use futures_util::StreamExt;

use crate::relay::Relay;
use crate::{app_only, fast, signed_in};

#[tokio::test]
async fn messages_page_to_the_end() {
    let fixture = signed_in().await;
    let connection = fixture.account.connection(fast()).unwrap();
    let all = connection
        .pages("me/messages?$top=10")
        .unwrap()
        .collect_all(1000)
        .await
        .unwrap();
    assert_eq!(all.len(), 25);
    let mut pager = connection.pages("me/messages?$top=10").unwrap();
    let mut sizes = Vec::new();
    while let Some(page) = pager.next_page().await {
        sizes.push(page.unwrap().len());
    }
    assert_eq!(sizes, [10, 10, 5]);

    fixture.emulator.control().reset_stats();
    let capped = connection
        .pages("me/messages?$top=10")
        .unwrap()
        .collect_all(12)
        .await
        .unwrap();
    assert_eq!(capped.len(), 12);
    assert_eq!(
        fixture.requests_to("/v1.0/me/messages"),
        2,
        "no page fetched beyond the cap"
    );
}

#[tokio::test]
async fn users_page_to_the_end_as_a_stream() {
    let fixture = signed_in().await;
    let app = app_only(&fixture.emulator).await;
    let connection = app.connection(fast()).unwrap();
    let everyone = connection
        .get("users?$top=999")
        .await
        .unwrap()
        .json()
        .unwrap();
    let total = everyone["value"].as_array().unwrap().len();
    assert!(total >= 5, "the sandbox tenant has users");

    let pages: Vec<_> = connection
        .pages("users?$top=2")
        .unwrap()
        .into_stream()
        .collect()
        .await;
    let sizes: Vec<usize> = pages.into_iter().map(|page| page.unwrap().len()).collect();
    assert_eq!(sizes.len(), total.div_ceil(2));
    assert_eq!(sizes.iter().sum::<usize>(), total);
}

#[tokio::test]
async fn a_next_link_to_another_host_is_not_followed() {
    let fixture = signed_in().await;
    // Through a relay the first page comes from the relay's address, while Graph's next link
    // names the emulator's: another origin, so the pager stops instead of sending the token.
    let relay = Relay::start(fixture.emulator.local_addr()).await;
    let connection = fixture.connection_to(&relay.base_url(), fast());
    let mut pager = connection.pages("me/messages?$top=10").unwrap();
    let error = pager.next_page().await.unwrap().unwrap_err();
    assert_eq!(error.code(), "protocol", "{error}");
    assert!(
        pager.next_page().await.is_none(),
        "finished after the error"
    );
    assert_eq!(relay.seen().len(), 1);
    assert_eq!(fixture.requests_to("/v1.0/me/messages"), 1);
}
