//! `sms inbound`: pulls handset replies from every provider that can be pulled.

use std::pin::pin;

use futures_util::StreamExt;
use futures_util::stream::select_all;
use serde_json::json;
use sms::InboundMessage;

use crate::backend::Backend;
use crate::exit::{Exit, Outcome};

/// Without `--follow`, drains what is waiting (one call per provider interval) and stops at the first
/// empty answer; with it, polls each provider at its minimum interval until Ctrl-C. Opt-outs are
/// marked and fed to the chain's opt-out list.
///
/// # Errors
/// A provider's failure when not following (its exit code).
pub async fn run(backend: &Backend, follow: bool, json: bool) -> Outcome {
    if backend.inbound.is_empty() {
        eprintln!("no provider of the chain can be pulled for replies");
        return Ok(Exit::Ok);
    }
    if follow {
        let streams = backend
            .inbound
            .iter()
            .map(|feed| Box::pin(sms::inbound_stream(feed.source.clone(), feed.min_interval)));
        let mut replies = pin!(select_all(streams));
        let mut stop = pin!(tokio::signal::ctrl_c());
        loop {
            tokio::select! {
                _ = &mut stop => return Ok(Exit::Ok),
                next = replies.next() => match next {
                    Some(Ok(reply)) => show(backend, &reply, json),
                    Some(Err(error)) => eprintln!("{error}"),
                    None => return Ok(Exit::Ok),
                },
            }
        }
    }
    let mut exit = Exit::Ok;
    for feed in &backend.inbound {
        let mut first = true;
        loop {
            if !first {
                // The provider counts every call against its limit, also while draining.
                tokio::time::sleep(feed.min_interval).await;
            }
            first = false;
            match feed.source.next_inbound().await {
                Ok(Some(reply)) => show(backend, &reply, json),
                Ok(None) => break,
                Err(error) => {
                    eprintln!("{}: {error}", feed.name);
                    exit = exit.max(Exit::for_error(&error));
                    break;
                }
            }
        }
    }
    Ok(exit)
}

fn show(backend: &Backend, reply: &InboundMessage, json: bool) {
    let opted_out = backend.chain.observe_inbound(reply) || reply.opt_out;
    if json {
        println!(
            "{}",
            json!({"provider": reply.provider, "from": reply.sender, "text": reply.text,
                   "received_at": reply.received_at.map(|t| t.to_string()), "opt_out": opted_out})
        );
    } else {
        let mark = if opted_out { "  [opt-out]" } else { "" };
        println!("{} from {}: {}{mark}", reply.provider, reply.sender, reply.text);
    }
}
