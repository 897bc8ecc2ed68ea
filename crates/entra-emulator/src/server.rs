//! The router and the accept loop. The loop is hand-rolled (hyper-util) so that a fault can
//! close a connection without answering.

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::Request;
use axum::middleware;
use axum::routing::{get, post};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::faults::ConnectionKill;
use crate::state::AppState;
use crate::{admin, authorize, device, discovery, faults, grants, graph, graph_mail};

pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(discovery::keys))
        .route("/{tenant}/oauth2/v2.0/authorize", get(authorize::authorize))
        .route("/{tenant}/oauth2/v2.0/token", post(grants::token))
        .route("/{tenant}/oauth2/v2.0/devicecode", post(device::devicecode))
        .route(
            "/{tenant}/oauth2/v2.0/logout",
            get(authorize::logout::logout),
        )
        .route("/{tenant}/login", post(authorize::flow::login))
        .route("/{tenant}/SAS/ProcessAuth", post(authorize::flow::mfa))
        .route("/{tenant}/Consent/Set", post(authorize::flow::consent))
        .route(
            "/{tenant}/select_account",
            post(authorize::flow::select_account),
        )
        .route(
            "/devicelogin",
            get(device::entry_page).post(device::submit_code),
        )
        .route("/error", get(authorize::logout::error_info))
        .route("/v1.0/me", get(graph::me))
        .route("/beta/me", get(graph::me))
        .route("/v1.0/users", get(graph::users))
        .route("/beta/users", get(graph::users))
        .route("/v1.0/users/{id}", get(graph::user))
        .route("/beta/users/{id}", get(graph::user))
        .route("/v1.0/me/sendMail", post(graph_mail::send_mail))
        .route("/beta/me/sendMail", post(graph_mail::send_mail))
        .route("/v1.0/me/messages", get(graph::messages))
        .route("/beta/me/messages", get(graph::messages))
        .route("/oidc/userinfo", get(graph::userinfo))
        .merge(admin::router())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            faults::middleware,
        ))
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown` fires; dropping the returned future's task
/// closes every connection.
pub async fn serve(listener: TcpListener, router: Router, mut shutdown: oneshot::Receiver<()>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else { continue };
                connections.spawn(serve_connection(stream, peer, router.clone()));
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    connections.shutdown().await;
}

async fn serve_connection(stream: tokio::net::TcpStream, peer: SocketAddr, router: Router) {
    let kill = ConnectionKill::default();
    let notify = kill.0.clone();
    let service = hyper::service::service_fn(move |mut request: Request<hyper::body::Incoming>| {
        request.extensions_mut().insert(kill.clone());
        let router = router.clone();
        async move {
            let response = router.oneshot(request.map(axum::body::Body::new)).await;
            Ok::<_, Infallible>(response.unwrap_or_else(|never| match never {}))
        }
    });
    let builder = Builder::new(TokioExecutor::new());
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        result = connection => {
            if let Err(error) = result {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
        }
        () = notify.notified() => {
            tracing::info!(%peer, "dropping connection (injected fault)");
        }
    }
}
