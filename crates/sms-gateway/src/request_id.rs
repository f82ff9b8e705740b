//! A request id on every request: taken from `X-Request-Id` when it is sane, otherwise generated;
//! every log line of the request carries it, and the answer echoes it.

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::app::AppState;

/// The header carrying the id.
pub const REQUEST_ID: &str = "x-request-id";

pub(crate) async fn trace(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(sms_store::new_id);
    // The route pattern, never the path: webhook paths hold the token.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let method = request.method().clone();
    let span = tracing::info_span!("request", request_id = %id, method = %method, route = %route);
    async move {
        let mut response = next.run(request).await;
        tracing::debug!(status = response.status().as_u16(), "answered");
        state.inner.metrics.request(
            &route,
            method.as_str(),
            response.status().as_u16(),
            started.elapsed(),
        );
        if let Ok(value) = HeaderValue::from_str(&id) {
            response.headers_mut().insert(REQUEST_ID, value);
        }
        response
    }
    .instrument(span)
    .await
}
