//! `GET /v1/openapi.json`: the OpenAPI 3.0 document of every endpoint, written by hand as JSON (a
//! derive stack would cost more than the document). A test checks that every route the router
//! serves is in it.

use axum::Router;
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::error::json_body;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(serve))
}

async fn serve() -> Response {
    json_body(&document())
}

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn ok(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

fn any_object() -> Value {
    json!({"type": "object", "additionalProperties": true})
}

/// The errors every authenticated endpoint may answer.
fn errors(extra: &[(&str, &str)]) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    for (status, description) in [
        ("401", "no or unknown API key (`unauthorized`)"),
        ("403", "the key lacks the scope (`forbidden`)"),
        (
            "429",
            "the key is over its request rate (`rate_limited`) or its daily parts (`budget_exceeded`); see `Retry-After`",
        ),
        ("503", "the message store is unavailable (`store_unavailable`)"),
    ]
    .iter()
    .chain(extra)
    {
        out.insert((*status).to_owned(), error_response(description));
    }
    out
}

fn with(mut base: serde_json::Map<String, Value>, status: &str, response: Value) -> Value {
    base.insert(status.to_owned(), response);
    Value::Object(base)
}

fn send_request_schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["to"],
        "description": "exactly one of `text`, `template`, `voice_code`, `mms`",
        "properties": {
            "to": {"oneOf": [
                {"type": "string", "example": "13800138000"},
                {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": crate::compose::MAX_RECIPIENTS},
            ]},
            "text": {"type": "string", "minLength": 1},
            "template": {
                "type": "object", "additionalProperties": false, "required": ["id", "text"],
                "properties": {
                    "id": {"type": "string"}, "text": {"type": "string"},
                    "variables": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            },
            "voice_code": {"type": "string", "pattern": "^[0-9]{4,8}$"},
            "mms": {
                "type": "object", "additionalProperties": false, "required": ["package_id", "product_id"],
                "properties": {"package_id": {"type": "string"}, "product_id": {"type": "string"}},
            },
            "reference": {"type": "string", "minLength": 1, "maxLength": 128},
            "schedule": {"type": "string", "description": "Beijing time, `2026-01-31 09:30:00`"},
            "policy": {"type": "string", "enum": ["at_most_once", "at_least_once"]},
            "queue": {"type": "boolean", "default": false},
        },
    })
}

/// `GET /v1/usage`'s answer (`v1::usage`).
fn usage_schema() -> Value {
    let count = json!({"type": "integer", "minimum": 0});
    json!({
        "type": "object",
        "required": ["enabled", "currency", "money_unit", "caps"],
        "properties": {
            "enabled": {"type": "boolean", "description": "false: the spend policy is off"},
            "currency": {"type": "string", "example": "CNY"},
            "money_unit": {"type": "string", "description": "money caps count thousandths of the currency unit"},
            "caps": {"type": "array", "items": {
                "type": "object",
                "required": ["scope", "period", "unit", "limit", "used", "remaining", "current_period", "resets_at", "resets_at_unix"],
                "properties": {
                    "scope": {"type": "string", "description": "`overall`, `account:{name}` or `country:{code}`"},
                    "period": {"type": "string", "enum": ["day", "month"]},
                    "unit": {"type": "string", "enum": ["parts", "money"]},
                    "limit": count.clone(),
                    "used": count.clone(),
                    "remaining": count.clone(),
                    "current_period": {"type": "string", "description": "the Beijing day or month counted"},
                    "resets_at": {"type": "string", "description": "Beijing time, `2026-02-01 00:00 +08:00`"},
                    "resets_at_unix": {"type": "integer", "description": "Unix seconds"},
                },
            }},
        },
    })
}

/// The document.
pub(crate) fn document() -> Value {
    let bearer = json!([{"bearer": []}]);
    let idempotency = json!({
        "name": "Idempotency-Key", "in": "header", "required": false,
        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    });
    let message = json!({"$ref": "#/components/schemas/Message"});
    let webhook_params = json!([
        {"name": "token", "in": "path", "required": true, "schema": {"type": "string"}},
        {"name": "provider", "in": "path", "required": true, "schema": {"type": "string"}},
    ]);
    let ack = json!({"description": "stored and acknowledged with what the vendor expects",
        "content": {"text/plain": {"schema": {"type": "string"}}}});
    let push_errors = json!({
        "200": ack,
        "400": error_response("the push cannot be read (`malformed_push`), or the token or provider is not UTF-8 (`invalid_parameter`)"),
        "403": error_response("the source address is not allowed"),
        "404": error_response("unknown token or provider"),
        "503": error_response("the store is unavailable; the vendor should push again"),
    });
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "sms gateway",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Send SMS, voice codes and MMS through the failover chain; read statuses, replies and suppressions. Every 4xx is JSON `{\"error\": {\"code\", \"message\"}}`.",
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object", "required": ["error"],
                    "properties": {"error": {"type": "object", "required": ["code", "message"],
                        "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}},
                },
                "SendRequest": send_request_schema(),
                "Message": {
                    "type": "object",
                    "required": ["id", "reference", "kind", "recipients"],
                    "properties": {
                        "id": {"type": "string"}, "reference": {"type": "string"}, "kind": {"type": "string"},
                        "batch_id": {"type": "string", "nullable": true},
                        "recipients": {"type": "array", "items": any_object()},
                        "attempts": {"type": "array", "items": any_object()},
                        "receipts": {"type": "array", "items": any_object()},
                    },
                },
            },
        },
        "paths": {
            "/v1/messages": {
                "post": {
                    "summary": "Send (scope send); `queue: true` answers 202 and the outbox sends it",
                    "security": bearer,
                    "parameters": [idempotency],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SendRequest"}}}},
                    "responses": with(errors(&[
                        ("400", "not JSON, or not a send request (`invalid_json`)"),
                        ("409", "the key is in flight, or the reference is already recorded"),
                        ("413", "the body is too large"),
                        ("415", "not `application/json`"),
                        ("422", "invalid values, the key reused with another body, or no provider sends this kind"),
                        ("502", "the providers could not be reached or refused"),
                        ("202", "queued, or still sending after the sync timeout"),
                    ]), "200", ok("the outcome per recipient", message.clone())),
                },
                "get": {
                    "summary": "A message by its client reference (scope read)",
                    "security": bearer,
                    "parameters": [{"name": "reference", "in": "query", "required": true, "schema": {"type": "string", "minLength": 1}}],
                    "responses": with(errors(&[("400", "no reference"), ("404", "no such message")]),
                        "200", ok("the message", message.clone())),
                },
            },
            "/v1/messages/{id}": {
                "get": {
                    "summary": "A message by id: status per recipient, timeline, attempts, receipts (scope read)",
                    "security": bearer,
                    "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                    "responses": with(errors(&[("404", "no such message")]), "200", ok("the message", message)),
                },
            },
            "/v1/batches": {
                "post": {
                    "summary": "Queue a bulk (scope send): `rows` (each a send request) or one send request with up to 100,000 numbers in `to`",
                    "security": bearer,
                    "parameters": [idempotency],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"oneOf": [
                        {"type": "object", "additionalProperties": false, "required": ["rows"],
                         "properties": {"rows": {"type": "array", "minItems": 1, "maxItems": crate::bulk::MAX_BATCH_ROWS,
                            "items": {"$ref": "#/components/schemas/SendRequest"}}}},
                        {"$ref": "#/components/schemas/SendRequest"},
                    ]}}}},
                    "responses": with(errors(&[
                        ("400", "not JSON, or not a batch (`invalid_json`)"),
                        ("409", "a reference is already recorded, or the key is in flight"),
                        ("413", "the body is too large"),
                        ("415", "not `application/json`"),
                        ("422", "invalid values (the message names the row)"),
                    ]), "202", ok("queued", json!({"type": "object", "required": ["id", "messages", "recipients"],
                        "properties": {"id": {"type": "string"}, "status": {"type": "string"},
                            "messages": {"type": "integer"}, "recipients": {"type": "integer"}}}))),
                },
            },
            "/v1/batches/{id}": {
                "get": {
                    "summary": "A bulk's progress: recipients per status, billed parts and estimated cost (scope read)",
                    "security": bearer,
                    "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                    "responses": with(errors(&[("404", "no such batch")]), "200", ok("the progress", json!({
                        "type": "object", "required": ["id", "recipients", "counts", "done"],
                        "properties": {"id": {"type": "string"}, "recipients": {"type": "integer"},
                            "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
                            "done": {"type": "boolean"}, "billed_parts": {"type": "integer"},
                            "billed": {"type": "array", "items": any_object()},
                            "estimated_cost": {"type": "number", "nullable": true}},
                    }))),
                },
            },
            "/v1/inbound": {
                "get": {
                    "summary": "Replies, oldest first, from a cursor (scope read)",
                    "security": bearer,
                    "parameters": [
                        {"name": "cursor", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 0}},
                        {"name": "limit", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                    ],
                    "responses": with(errors(&[("400", "a bad cursor or limit")]), "200", ok("replies", json!({
                        "type": "object", "required": ["inbound", "cursor"],
                        "properties": {"inbound": {"type": "array", "items": any_object()}, "cursor": {"type": "integer"}},
                    }))),
                },
            },
            "/v1/suppressions": {
                "get": {
                    "summary": "The durable opt-out list, paged by number (scope read)",
                    "security": bearer,
                    "parameters": [
                        {"name": "after", "in": "query", "required": false, "schema": {"type": "string"}},
                        {"name": "limit", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                    ],
                    "responses": with(errors(&[("400", "a bad limit")]), "200", ok("suppressions", json!({
                        "type": "object", "required": ["suppressions"],
                        "properties": {"suppressions": {"type": "array", "items": any_object()},
                            "next_after": {"type": "string", "nullable": true}},
                    }))),
                },
                "post": {
                    "summary": "Suppress a number (scope admin)",
                    "security": bearer,
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {
                        "type": "object", "additionalProperties": false, "required": ["number"],
                        "properties": {"number": {"type": "string"}, "reason": {"type": "string", "minLength": 1, "maxLength": 64}},
                    }}}},
                    "responses": with(errors(&[
                        ("200", "already suppressed"),
                        ("400", "not JSON"),
                        ("413", "the body is too large"),
                        ("415", "not `application/json`"),
                        ("422", "not a valid number or reason"),
                    ]), "201", ok("suppressed", json!({"type": "object",
                        "properties": {"number": {"type": "string"}, "created": {"type": "boolean"}}}))),
                },
            },
            "/v1/suppressions/{number}": {
                "delete": {
                    "summary": "Remove a suppression (scope admin)",
                    "security": bearer,
                    "parameters": [{"name": "number", "in": "path", "required": true, "schema": {"type": "string"}}],
                    "responses": with(errors(&[("404", "not suppressed"), ("422", "not a valid number")]),
                        "204", json!({"description": "removed"})),
                },
            },
            "/v1/balances": {
                "get": {
                    "summary": "Every provider's balance (scope read)",
                    "security": bearer,
                    "responses": with(errors(&[]), "200", ok("balances", json!({"type": "object",
                        "properties": {"balances": {"type": "array", "items": any_object()}}}))),
                },
            },
            "/v1/usage": {
                "get": {
                    "summary": "Spending against every cap of the spend policy, in its current Beijing day or month (scope read)",
                    "security": bearer,
                    "responses": with(errors(&[("503", "the spend ledger cannot be read (`store_unavailable`)")]),
                        "200", ok("spending per cap", usage_schema())),
                },
            },
            "/v1/providers": {
                "get": {
                    "summary": "Each provider's place in the chain, breaker and recent health (scope read)",
                    "security": bearer,
                    "responses": with(errors(&[]), "200", ok("providers", json!({"type": "object",
                        "properties": {"providers": {"type": "array", "items": any_object()}}}))),
                },
            },
            "/v1/providers/{name}/pin": {
                "post": {
                    "summary": "Adaptive routing: every first attempt to this provider, on every instance (scope admin)",
                    "security": bearer,
                    "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}],
                    "responses": with(errors(&[("404", "no such provider"), ("422", "the chain is not adaptive")]),
                        "200", ok("the overrides in force", any_object())),
                },
            },
            "/v1/providers/{name}/drain": {
                "post": {
                    "summary": "Adaptive routing: no first attempts to this provider, on every instance (scope admin)",
                    "security": bearer,
                    "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}],
                    "responses": with(errors(&[("404", "no such provider"),
                        ("422", "the chain is not adaptive, or no provider would be left")]),
                        "200", ok("the overrides in force", any_object())),
                },
            },
            "/v1/providers/{name}/override": {
                "delete": {
                    "summary": "Adaptive routing: remove this provider's pin or drain (scope admin)",
                    "security": bearer,
                    "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}],
                    "responses": with(errors(&[("404", "no such provider"), ("422", "the chain is not adaptive")]),
                        "200", ok("the overrides in force", any_object())),
                },
            },
            "/v1/openapi.json": {
                "get": {"summary": "This document", "responses": {"200": ok("the OpenAPI document", any_object())}},
            },
            "/healthz": {
                "get": {"summary": "The process answers", "responses": {"200": ok("alive", any_object())}},
            },
            "/readyz": {
                "get": {"summary": "The store answers", "responses": {
                    "200": ok("ready", any_object()),
                    "503": error_response("the store is unavailable"),
                }},
            },
            "/metrics": {
                "get": {"summary": "Prometheus text format", "responses": {"200": {"description": "metrics",
                    "content": {"text/plain": {"schema": {"type": "string"}}}}}},
            },
            "/webhooks/{token}/{provider}/receipt": {
                "post": {"summary": "A provider's delivery receipt push (ihuyi, ihuyi voice)",
                    "parameters": webhook_params.clone(), "responses": push_errors.clone()},
            },
            "/webhooks/{token}/{provider}/reply": {
                "get": {"summary": "A Juxiang reply push (query string, GBK)",
                    "parameters": webhook_params.clone(), "responses": push_errors.clone()},
                "post": {"summary": "A reply push (ihuyi form; Juxiang form, GBK)",
                    "parameters": webhook_params, "responses": push_errors},
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(prefix, source)` of every file that declares routes, as nested by `app::router`.
    const SOURCES: &[(&str, &str)] = &[
        ("/v1", include_str!("v1/messages.rs")),
        ("/v1", include_str!("v1/batches.rs")),
        ("/v1", include_str!("v1/suppressions.rs")),
        ("/v1", include_str!("v1/balances.rs")),
        ("/v1", include_str!("v1/providers.rs")),
        ("/v1", include_str!("v1/inbound.rs")),
        ("/v1", include_str!("v1/usage.rs")),
        ("/v1", include_str!("openapi.rs")),
        ("/webhooks", include_str!("webhooks.rs")),
        ("", include_str!("health.rs")),
        ("", include_str!("metrics.rs")),
    ];

    /// Every route call (path, then its method routers) in `source`.
    fn routes(prefix: &str, source: &str) -> Vec<(String, Vec<String>)> {
        let mut out = Vec::new();
        let marker = concat!(".route", "(\"");
        for piece in source.split(marker).skip(1) {
            let Some((path, rest)) = piece.split_once('"') else {
                continue;
            };
            let call = rest.split(")\n").next().unwrap_or(rest);
            let methods: Vec<String> = ["get", "post", "delete", "put", "patch", "any"]
                .iter()
                .filter(|m| call.contains(&format!("{m}(")))
                .map(|m| (*m).to_owned())
                .collect();
            out.push((format!("{prefix}{path}"), methods));
        }
        out
    }

    #[test]
    fn every_route_of_the_router_is_in_the_document() {
        let doc = document();
        let mut seen = 0;
        for (prefix, source) in SOURCES {
            for (path, methods) in routes(prefix, source) {
                let item = &doc["paths"][&path];
                assert!(item.is_object(), "{path} is not in the OpenAPI document");
                assert!(!methods.is_empty(), "no method found for {path}");
                for method in methods {
                    // `any` (the Juxiang reply push) is documented as the methods it serves.
                    if method == "any" {
                        assert!(item["get"].is_object() && item["post"].is_object(), "{path}");
                    } else {
                        assert!(
                            item[&method].is_object(),
                            "{method} {path} is not in the document"
                        );
                    }
                    seen += 1;
                }
            }
        }
        // The files above declare every route: a new file of routes must be added to SOURCES.
        let documented: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|item| item.as_object().unwrap().len())
            .sum();
        assert_eq!(
            seen + 1,
            documented,
            "the reply push's `any` is documented as get and post"
        );
    }

    #[test]
    fn every_reference_resolves() {
        let text = document().to_string();
        for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = piece.split('"').next().unwrap();
            assert!(document()["components"]["schemas"][name].is_object(), "{name}");
        }
    }
}
