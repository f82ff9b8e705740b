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
    let feeds: Vec<_> = backend
        .providers
        .iter()
        .filter_map(|p| {
            p.inbound
                .as_ref()
                .map(|(source, interval)| (p.name.as_str(), source.clone(), *interval))
        })
        .collect();
    if feeds.is_empty() {
        eprintln!("no provider of the chain can be pulled for replies");
        return Ok(Exit::Ok);
    }
    if follow {
        let streams = feeds
            .iter()
            .map(|(_, source, interval)| Box::pin(sms::inbound_stream(source.clone(), *interval)));
        let mut replies = pin!(select_all(streams));
        let mut stop = pin!(tokio::signal::ctrl_c());
        loop {
            tokio::select! {
                _ = &mut stop => return Ok(Exit::Ok),
                next = replies.next() => match next {
                    Some(Ok(reply)) => {
                        if let Err(error) = show(backend, &reply, json).await {
                            eprintln!("{error}");
                        }
                    }
                    Some(Err(error)) => eprintln!("{error}"),
                    None => return Ok(Exit::Ok),
                },
            }
        }
    }
    let mut exit = Exit::Ok;
    for (name, source, interval) in &feeds {
        let mut first = true;
        loop {
            if !first {
                // The provider counts every call against its limit, also while draining.
                tokio::time::sleep(*interval).await;
            }
            first = false;
            match source.next_inbound().await {
                Ok(Some(reply)) => {
                    if let Err(error) = show(backend, &reply, json).await {
                        eprintln!("{error}");
                        exit = exit.max(Exit::for_error(&error));
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    eprintln!("{name}: {error}");
                    exit = exit.max(Exit::for_error(&error));
                    break;
                }
            }
        }
    }
    Ok(exit)
}

/// Prints one reply after handing it to the chain's opt-out list. The reply is printed even when the
/// list cannot record an opt-out; the error then says so, so that nobody believes it was honoured.
async fn show(backend: &Backend, reply: &InboundMessage, json: bool) -> Result<(), sms::Error> {
    let recorded = backend.chain.observe_inbound(reply).await;
    let opted_out = reply.opt_out || recorded.as_ref().is_ok_and(|unsubscribed| *unsubscribed);
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
    recorded.map(|_| ())
}
