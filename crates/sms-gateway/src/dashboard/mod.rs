//! The operator's dashboard at `/dashboard`: server-rendered HTML pages (providers, messages, a
//! message's timeline, bulk runs, replies, suppressions) behind a login with an API key.
//!
//! Reading needs a key with the `read` (or `admin`) scope; every change needs `admin`, the
//! session's CSRF token and a same-origin request. Numbers are masked unless an admin reveals them
//! on one page, and never appear in a URL: searches and removals go through opaque tokens held in
//! the server-side session. Pages read through [`data`] only.

mod batches;
mod chart;
mod data;
mod layout;
mod login;
mod messages;
mod providers;
mod replies;
mod session;
mod suppressions;
mod timeline;

use std::sync::Arc;

use axum::extract::Extension;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Router, http::HeaderMap};
use maud::{Markup, html};

use crate::app::AppState;
use session::{BASE, Refusal, Session, Sessions, SharedSessions};

/// `/dashboard/…`, with its own session store.
pub(crate) fn router() -> Router<AppState> {
    let sessions: SharedSessions = Arc::new(Sessions::default());
    Router::new()
        .route("/", get(index))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/providers", get(providers::page))
        .route("/messages", get(messages::list).post(messages::search))
        .route("/messages/{id}", get(timeline::page))
        .route("/messages/{id}/reveal", post(timeline::reveal))
        .route("/batches", get(batches::page))
        .route("/replies", get(replies::page))
        .route("/suppressions", get(suppressions::page))
        .route("/suppressions/add", post(suppressions::add))
        .route("/suppressions/remove", post(suppressions::remove))
        .layer(Extension(sessions))
}

async fn index(Extension(sessions): Extension<SharedSessions>, headers: HeaderMap) -> Response {
    match sessions.of(&headers) {
        Some(_) => redirect(&format!("{BASE}/providers")),
        None => to_login(),
    }
}

/// An HTML page with headers that keep it out of caches and frames and forbid scripts.
pub(crate) fn html_page(status: StatusCode, markup: Markup) -> Response {
    let mut response = (status, markup.into_string()).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Not `no-referrer`: under it browsers send `Origin: null` with form posts, and the origin
    // check needs the real one. `same-origin` still sends nothing to other sites.
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}

/// `303 See Other` to `to` (a path).
pub(crate) fn redirect(to: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Where a request without a session goes.
pub(crate) fn to_login() -> Response {
    redirect(&format!("{BASE}/login"))
}

/// The request's session, or the redirect to the login page.
#[allow(clippy::result_large_err)]
pub(crate) fn signed_in(sessions: &Sessions, headers: &HeaderMap) -> Result<Session, Response> {
    sessions.of(headers).ok_or_else(to_login)
}

/// An error page inside the frame.
pub(crate) fn error_page(session: &Session, status: StatusCode, title: &str, text: &str) -> Response {
    html_page(
        status,
        layout::page(title, session, "", None, html! { p class="error" { (text) } }),
    )
}

/// The answer to a refused form post.
pub(crate) fn refused(session: &Session, why: Refusal) -> Response {
    let text = match why {
        Refusal::CrossSite => "This form was sent from another site; nothing was changed.",
        Refusal::Token => {
            "This form has expired or was not sent from the dashboard; nothing was changed. Reload the page and try again."
        }
    };
    error_page(session, StatusCode::FORBIDDEN, "Refused", text)
}

/// The answer to a change by a read-only session.
pub(crate) fn admin_only(session: &Session) -> Response {
    error_page(
        session,
        StatusCode::FORBIDDEN,
        "Not allowed",
        "Only a key with the admin scope can change this; nothing was changed.",
    )
}

/// A failed read, inside the frame.
pub(crate) fn unavailable(session: &Session, text: &str) -> Response {
    error_page(session, StatusCode::SERVICE_UNAVAILABLE, "Unavailable", text)
}
