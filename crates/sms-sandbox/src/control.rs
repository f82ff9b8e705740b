//! The control API under `/_sandbox/` (JSON), for tests in other languages and for the binary.

use std::sync::Arc;
use std::time::SystemTime;

use hyper::http::request::Parts;
use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;

use crate::config::Product;
use crate::delivery::DeliveryProfile;
use crate::faults::Fault;
use crate::params::Charset;
use crate::pushes::{self, PushJob};
use crate::records::{DEFAULT_SERVICE_NUMBER, InboundReply, PushKind};
use crate::render::Reply;
use crate::state::{QueuedReply, Shared};

#[derive(Debug, Deserialize)]
struct BalanceChange {
    product: Product,
    account: String,
    amount: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliveryChange {
    product: Product,
    #[serde(default)]
    delays: Vec<crate::delivery::DelayBand>,
    #[serde(default)]
    failed: f64,
    #[serde(default)]
    lost: f64,
}

#[derive(Debug, Deserialize)]
struct BalanceQuery {
    product: Product,
    account: String,
}

pub(crate) fn answer(shared: &Arc<Shared>, parts: &Parts, body: &[u8]) -> Reply {
    let path = parts.uri.path().trim_end_matches('/');
    let method = &parts.method;
    let ok = || Reply::json(StatusCode::OK, &json!({ "ok": true }));
    match (method, path) {
        (&Method::GET, "/_sandbox/messages") => {
            let messages = shared.state().messages();
            Reply::json(StatusCode::OK, &json!(messages))
        }
        (&Method::GET, "/_sandbox/pushes") => Reply::json(StatusCode::OK, &json!(shared.pushes())),
        (&Method::GET, "/_sandbox/requests") => {
            let counts: serde_json::Map<String, serde_json::Value> = Product::ALL
                .iter()
                .map(|p| (p.name().to_owned(), json!(shared.request_count(*p))))
                .collect();
            Reply::json(StatusCode::OK, &serde_json::Value::Object(counts))
        }
        (&Method::POST, "/_sandbox/reset") => {
            shared.reset();
            ok()
        }
        (&Method::GET, "/_sandbox/balance") => {
            let query = parts.uri.query().unwrap_or("");
            match serde_urlencoded::from_str::<BalanceQuery>(query) {
                Ok(q) => match shared.state().balance(q.product, &q.account) {
                    Some(balance) => Reply::json(StatusCode::OK, &json!({ "balance": balance })),
                    None => error(StatusCode::NOT_FOUND, "no such account"),
                },
                Err(e) => error(StatusCode::BAD_REQUEST, &e.to_string()),
            }
        }
        (&Method::POST, "/_sandbox/balance") => match parse::<BalanceChange>(body) {
            Ok(change) => {
                if shared
                    .state()
                    .set_balance(change.product, &change.account, change.amount)
                {
                    Reply::json(StatusCode::OK, &json!({ "ok": true, "balance": change.amount }))
                } else {
                    error(StatusCode::NOT_FOUND, "no such account")
                }
            }
            Err(reply) => reply,
        },
        (&Method::POST, "/_sandbox/inbound") => match parse::<InboundReply>(body) {
            Ok(reply) => {
                inject_inbound(shared, reply);
                ok()
            }
            Err(reply) => reply,
        },
        (&Method::POST, "/_sandbox/faults") => match parse::<Fault>(body) {
            Ok(fault) => {
                shared.add_fault(fault);
                ok()
            }
            Err(reply) => reply,
        },
        (&Method::DELETE, "/_sandbox/faults") => {
            shared.clear_faults();
            ok()
        }
        (&Method::GET, "/_sandbox/delivery") => {
            let profiles: serde_json::Map<String, serde_json::Value> = shared
                .delivery_profiles()
                .into_iter()
                .map(|(product, profile)| (product.name().to_owned(), json!(profile)))
                .collect();
            Reply::json(StatusCode::OK, &serde_json::Value::Object(profiles))
        }
        (&Method::POST, "/_sandbox/delivery") => match parse::<DeliveryChange>(body) {
            Ok(change) => match shared.set_delivery(
                change.product,
                DeliveryProfile {
                    delays: change.delays,
                    failed: change.failed,
                    lost: change.lost,
                },
            ) {
                Ok(()) => ok(),
                Err(why) => error(StatusCode::BAD_REQUEST, &why),
            },
            Err(reply) => reply,
        },
        (&Method::DELETE, "/_sandbox/delivery") => {
            shared.clear_delivery();
            ok()
        }
        (
            _,
            "/_sandbox/messages" | "/_sandbox/pushes" | "/_sandbox/requests" | "/_sandbox/reset"
            | "/_sandbox/balance" | "/_sandbox/inbound" | "/_sandbox/faults" | "/_sandbox/delivery",
        ) => error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed here"),
        _ => error(StatusCode::NOT_FOUND, "no such control endpoint"),
    }
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, Reply> {
    serde_json::from_slice(body).map_err(|e| error(StatusCode::BAD_REQUEST, &e.to_string()))
}

fn error(status: StatusCode, message: &str) -> Reply {
    Reply::json(status, &json!({ "error": message }))
}

/// Queues a handset reply for Juxiang `readsms.asp` and pushes it to the product's upstream URL.
pub(crate) fn inject_inbound(shared: &Arc<Shared>, reply: InboundReply) {
    let now = SystemTime::now();
    let generation = {
        let mut state = shared.state();
        if reply.product == Product::Juxiang {
            state.inbound.push_back(QueuedReply {
                reply: reply.clone(),
                time: now,
            });
        }
        state.generation
    };
    let Some(url) = shared.upstream_url(reply.product) else {
        return;
    };
    let job = match reply.product {
        Product::Juxiang => PushJob {
            kind: PushKind::Upstream,
            product: reply.product,
            url,
            fields: vec![
                ("src".to_owned(), reply.from),
                (
                    "dst".to_owned(),
                    reply
                        .service_number
                        .unwrap_or_else(|| DEFAULT_SERVICE_NUMBER.to_owned()),
                ),
                ("msg".to_owned(), reply.text),
            ],
            charset: Charset::Gbk,
            delay: std::time::Duration::ZERO,
            expect_zero: true,
            stamp_report_time: false,
            generation,
        },
        product => PushJob {
            kind: PushKind::Upstream,
            product,
            url,
            fields: vec![
                ("mobile".to_owned(), reply.from),
                ("content".to_owned(), reply.text),
                ("time".to_owned(), crate::clock::format_dashed(now)),
            ],
            charset: Charset::Utf8,
            delay: std::time::Duration::ZERO,
            expect_zero: false,
            stamp_report_time: false,
            generation,
        },
    };
    pushes::spawn(shared, job);
}
