//! The whole API over HTTP on loopback, in one process: each request gets what API Gateway gives
//! a Lambda function (a request context with the caller's source IP and a request id) and goes to
//! the function the routing table names, through that function's own router. Contract fuzzing,
//! the load test and the throughput benchmark call it; `make run` stays on `cargo lambda watch`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
use lambda_http::request::RequestContext;
use tokio::net::TcpListener;

use crate::Gateway;

/// Adds API Gateway's request context, then hands the request to its function.
async fn dispatch(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
) -> Response {
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.request_id = Some(uuid::Uuid::new_v4().to_string());
    context.http.source_ip = Some(peer.ip().to_string());
    context.http.method = request.method().clone();
    context.http.path = Some(request.uri().path().to_owned());
    request
        .extensions_mut()
        .insert(RequestContext::ApiGatewayV2(context));
    gateway.call(request).await
}

/// Serves `gateway` on `listener` until the process ends.
pub async fn serve(gateway: Gateway, listener: TcpListener) -> std::io::Result<()> {
    let app = axum::Router::new()
        .fallback(dispatch)
        .with_state(Arc::new(gateway));
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

/// Serves `gateway` on a free loopback port in the background; returns the base URL.
pub async fn spawn(gateway: Gateway) -> String {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free loopback port");
    let address = listener.local_addr().expect("bound address");
    tokio::spawn(serve(gateway, listener));
    format!("http://{address}")
}
