//! The HTTP side: routes, and a hand-written accept loop so that one
//! connection can be dropped without an answer.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::middleware;
use axum::routing::{get, post};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::api;
use crate::gate::{ConnectionKiller, gate};
use crate::state::Shared;

pub(crate) fn router(shared: Shared) -> Router {
    Router::new()
        .route("/client/v4/user/tokens/verify", get(api::verify_user))
        .route("/client/v4/accounts", get(api::list_accounts))
        .route(
            "/client/v4/accounts/{account_id}/tokens/verify",
            get(api::verify_account),
        )
        .route("/client/v4/zones", get(api::list_zones))
        .route("/client/v4/zones/{zone_id}", get(api::get_zone))
        .route(
            "/client/v4/zones/{zone_id}/dns_records",
            get(api::list_records).post(api::create_record),
        )
        .route(
            "/client/v4/zones/{zone_id}/dns_records/batch",
            post(api::batch),
        )
        .route(
            "/client/v4/zones/{zone_id}/dns_records/{record_id}",
            get(api::get_record)
                .patch(api::patch_record)
                .put(api::put_record)
                .delete(api::delete_record),
        )
        .fallback(api::no_route)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(middleware::from_fn_with_state(shared.clone(), gate))
        .with_state(shared)
}

/// Accepts connections until dropped; dropping it drops every connection.
pub(crate) async fn serve(listener: TcpListener, router: Router) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    connections.spawn(serve_connection(stream, router.clone()));
                }
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve_connection(stream: TcpStream, router: Router) {
    let kill = Arc::new(Notify::new());
    let killer = ConnectionKiller(kill.clone());
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(killer.clone());
        router.clone().oneshot(request)
    });
    let connection =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = connection => {}
        // Dropping the connection closes the socket, with whatever request
        // was in flight left unanswered.
        () = kill.notified() => {}
    }
}
