//! Graph's error answers as typed errors, or as answers when errors are not raised.

use entra_emulator::sandbox::DEMO_USERNAME;
use o365_auth_core::Error;
use o365_auth_core::connection::ConnectionSettings;

use crate::{app_only, fast, signed_in};

#[tokio::test]
async fn graph_403_and_404_are_api_errors_with_code_and_request_ids() {
    let fixture = signed_in().await;
    let connection = fixture.account.connection(fast()).unwrap();
    // Delegated User.Read cannot list the directory.
    let error = connection.get("users").await.unwrap_err();
    let detail = error.service_error().expect("detail");
    assert_eq!(
        (error.code(), detail.http_status, detail.error.as_str()),
        ("api_error", Some(403), "Authorization_RequestDenied")
    );
    assert!(
        detail.trace_id.is_some() && detail.correlation_id.is_some(),
        "{detail:?}"
    );
    assert!(
        detail
            .description
            .as_deref()
            .unwrap_or_default()
            .contains("privileges")
    );

    let app = app_only(&fixture.emulator).await;
    let connection = app.connection(fast()).unwrap();
    let error = connection
        .get("users/nobody@contoso.onmicrosoft.com")
        .await
        .unwrap_err();
    let Error::Api(detail) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(
        (detail.http_status, detail.error.as_str(), detail.aadsts),
        (Some(404), "Request_ResourceNotFound", None)
    );
    assert!(detail.trace_id.as_deref().is_some_and(|id| id.len() == 36));
    // The same user by name, found.
    let found = connection
        .get(&format!("users/{DEMO_USERNAME}"))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(found["userPrincipalName"], DEMO_USERNAME);
}

#[tokio::test]
async fn with_errors_not_raised_the_answer_comes_back() {
    let fixture = signed_in().await;
    let app = app_only(&fixture.emulator).await;
    let connection = app
        .connection(ConnectionSettings {
            raise_http_errors: false,
            ..fast()
        })
        .unwrap();
    let answer = connection
        .get("users/nobody@contoso.onmicrosoft.com")
        .await
        .unwrap();
    assert_eq!(answer.status, 404);
    assert!(!answer.is_success());
    assert!(answer.header("request-id").is_some());
    assert_eq!(
        answer.json().unwrap()["error"]["code"],
        "Request_ResourceNotFound"
    );
}
