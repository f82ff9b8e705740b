//! `GET|POST /dashboard/login` (an API key in, a session cookie out) and `POST /dashboard/logout`.

use axum::extract::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use maud::{Markup, html};
use sms_config::ApiScope;

use super::session::{self, BASE, Form, SharedSessions};
use super::{html_page, layout, redirect, to_login};
use crate::app::AppState;

fn login_form(error: Option<&str>) -> Markup {
    layout::bare(
        "Log in",
        html! {
            @if let Some(error) = error {
                p class="error" { (error) }
            }
            form method="post" action={ (BASE) "/login" } {
                p {
                    label for="key" { "API key (read or admin scope)" }
                    br;
                    input id="key" name="key" type="password" autocomplete="off" size="60" required;
                }
                button type="submit" { "Log in" }
            }
            p class="note" { "The key is checked against the gateway's hashed keys and is not kept: the session lasts 8 hours or until you log out." }
        },
    )
}

pub(super) async fn form(Extension(sessions): Extension<SharedSessions>, headers: HeaderMap) -> Response {
    if sessions.of(&headers).is_some() {
        return redirect(&format!("{BASE}/providers"));
    }
    html_page(StatusCode::OK, login_form(None))
}

pub(super) async fn submit(
    State(state): State<AppState>,
    Extension(sessions): Extension<SharedSessions>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if session::same_origin(&headers).is_err() {
        return html_page(
            StatusCode::FORBIDDEN,
            login_form(Some("This login was sent from another site.")),
        );
    }
    let form = Form::parse(&body);
    let Some(key) = form.get("key") else {
        return html_page(StatusCode::UNAUTHORIZED, login_form(Some("Give an API key.")));
    };
    let Some((name, scopes)) = state.inner.keys.identify(key) else {
        return html_page(StatusCode::UNAUTHORIZED, login_form(Some("Unknown API key.")));
    };
    let admin = scopes.contains(&ApiScope::Admin);
    if !admin && !scopes.contains(&ApiScope::Read) {
        return html_page(
            StatusCode::FORBIDDEN,
            login_form(Some("This key has neither the read nor the admin scope.")),
        );
    }
    let id = match sessions.create(name, admin) {
        Ok(id) => id,
        Err(e) => {
            tracing::error!(error = %e, "no dashboard session could be created");
            return html_page(
                StatusCode::SERVICE_UNAVAILABLE,
                login_form(Some("No session could be created; try again.")),
            );
        }
    };
    tracing::info!(key = %name, admin, "dashboard login");
    let mut response = redirect(&format!("{BASE}/providers"));
    if let Ok(v) = HeaderValue::from_str(&session::set_cookie(&id)) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

pub(super) async fn logout(
    Extension(sessions): Extension<SharedSessions>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(current) = sessions.of(&headers) else {
        return to_login();
    };
    if let Err(why) = session::check_post(&headers, &current, &Form::parse(&body)) {
        return super::refused(&current, why);
    }
    sessions.end(&headers);
    let mut response = to_login();
    if let Ok(v) = HeaderValue::from_str(&session::clear_cookie()) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}
