//! Every error the API answers: one code per situation, one HTTP status per code (the table in
//! [`ErrorCode::status`]), a JSON body `{"error": {"code", "message"}}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A stable, machine-readable error code. Clients branch on it; the message is for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// No bearer key, or one that is not configured.
    Unauthorized,
    /// The key lacks the scope this endpoint needs.
    Forbidden,
    /// The webhook's source address is not on the allowlist.
    SourceNotAllowed,
    /// No such route, message, provider or webhook token.
    NotFound,
    /// The route exists, not with this method.
    MethodNotAllowed,
    /// The body is larger than `gateway.body_limit`.
    PayloadTooLarge,
    /// The API takes `application/json`.
    UnsupportedMediaType,
    /// The body is not JSON.
    InvalidJson,
    /// The JSON does not have the request's shape or its values are invalid.
    InvalidRequest,
    /// A query parameter or path segment is invalid.
    InvalidParameter,
    /// The `Idempotency-Key` was used before with a different request.
    IdempotencyKeyReused,
    /// The first request with this `Idempotency-Key` is still in flight.
    IdempotencyInFlight,
    /// A message with this client reference is already recorded.
    DuplicateReference,
    /// No provider of the chain sends this kind of message.
    UnsupportedKind,
    /// A provider push that cannot be parsed.
    MalformedPush,
    /// The message store cannot be reached; nothing was done.
    StoreUnavailable,
    /// The providers could not be reached or refused; nothing was accepted.
    ProviderUnavailable,
    /// The API key is over its request rate (`Retry-After` says when to come back).
    RateLimited,
    /// The API key is over its daily spend cap (`Retry-After`: until Beijing midnight).
    BudgetExceeded,
    /// A fault of the gateway itself.
    Internal,
}

impl ErrorCode {
    /// The code as it appears in the JSON body.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::SourceNotAllowed => "source_not_allowed",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::InvalidJson => "invalid_json",
            Self::InvalidRequest => "invalid_request",
            Self::InvalidParameter => "invalid_parameter",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::IdempotencyInFlight => "idempotency_in_flight",
            Self::DuplicateReference => "duplicate_reference",
            Self::UnsupportedKind => "unsupported_kind",
            Self::MalformedPush => "malformed_push",
            Self::StoreUnavailable => "store_unavailable",
            Self::ProviderUnavailable => "provider_unavailable",
            Self::RateLimited => "rate_limited",
            Self::BudgetExceeded => "budget_exceeded",
            Self::Internal => "internal",
        }
    }

    /// The HTTP status of the code: the one table.
    pub fn status(self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden | Self::SourceNotAllowed => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::InvalidJson | Self::InvalidParameter | Self::MalformedPush => StatusCode::BAD_REQUEST,
            Self::InvalidRequest | Self::IdempotencyKeyReused | Self::UnsupportedKind => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::IdempotencyInFlight | Self::DuplicateReference => StatusCode::CONFLICT,
            Self::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::ProviderUnavailable => StatusCode::BAD_GATEWAY,
            Self::RateLimited | Self::BudgetExceeded => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An error answer: a code and a message for people. The message never echoes a secret or a
/// request body.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}: {message}", code.as_str())]
pub struct ApiError {
    code: ErrorCode,
    message: String,
}

impl ApiError {
    /// An error with `code` saying `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// The code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// A store failure: 503, logged (the detail may name the database, not for clients).
    pub(crate) fn store(error: &sms_store::StoreError) -> Self {
        tracing::warn!(%error, "message store failure");
        Self::new(
            ErrorCode::StoreUnavailable,
            "the message store is unavailable; try again later",
        )
    }

    /// The store's writer is gone or answered out of step: 503, the vendor will push again.
    pub(crate) fn store_stopped() -> Self {
        tracing::warn!("the receipt writer could not file a receipt");
        Self::new(
            ErrorCode::StoreUnavailable,
            "the message store is unavailable; try again later",
        )
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({"error": {"code": self.code.as_str(), "message": self.message}})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.code.status();
        if status.is_server_error() {
            tracing::warn!(code = self.code.as_str(), message = %self.message, "request failed");
        } else {
            tracing::debug!(code = self.code.as_str(), message = %self.message, "request refused");
        }
        let mut response = (status, json_body(&self.body())).into_response();
        if self.code == ErrorCode::Unauthorized {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// A JSON response body with its content type.
pub(crate) fn json_body(value: &serde_json::Value) -> Response {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        value.to_string(),
    )
        .into_response()
}

/// A body extraction failure (too large, cut off) as an API error.
pub(crate) fn body_rejection(rejection: axum::extract::rejection::BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            "the request body is larger than the gateway accepts",
        )
    } else {
        ApiError::new(ErrorCode::InvalidRequest, "the request body could not be read")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_client_error_is_4xx_and_codes_are_distinct() {
        use ErrorCode::*;
        let all = [
            Unauthorized,
            Forbidden,
            SourceNotAllowed,
            NotFound,
            MethodNotAllowed,
            PayloadTooLarge,
            UnsupportedMediaType,
            InvalidJson,
            InvalidRequest,
            InvalidParameter,
            IdempotencyKeyReused,
            IdempotencyInFlight,
            DuplicateReference,
            UnsupportedKind,
            MalformedPush,
            StoreUnavailable,
            ProviderUnavailable,
            Internal,
        ];
        let names: std::collections::BTreeSet<_> = all.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), all.len());
        for code in all {
            let server_side = matches!(code, StoreUnavailable | ProviderUnavailable | Internal);
            assert_eq!(code.status().is_server_error(), server_side, "{code:?}");
            assert!(code.status().is_client_error() || server_side, "{code:?}");
        }
    }
}
