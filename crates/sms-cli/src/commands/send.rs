//! `sms send`: one message to one or more numbers.

use serde_json::json;
use sms::{Message, Recipients};

use crate::backend::Backend;
use crate::cli::SendArgs;
use crate::compose;
use crate::exit::{Exit, Failure, Outcome};
use crate::report;

/// Builds, checks and sends the message; prints who took it, ids, billed parts and every failed
/// attempt.
///
/// # Errors
/// Bad input (exit 2) before anything is sent; a chain error with its exit code.
pub async fn run(backend: &Backend, args: &SendArgs, json: bool) -> Outcome {
    let recipients = args
        .to
        .iter()
        .filter(|n| !n.trim().is_empty())
        .map(|n| compose::number(n))
        .collect::<Result<Vec<_>, _>>()?;
    let mms = args.mms.as_deref().zip(args.product.as_deref());
    let body = compose::send_body(&args.body, args.voice_code.as_deref(), mms)?;
    let mut message = Message::new(Recipients::from(recipients), body);
    if let Some(reference) = &args.reference {
        message = message.with_reference(reference.clone());
    }
    let message = compose::with_options(message, &args.body)?;
    let parts = compose::check(backend, &message)?;

    if args.body.dry_run {
        let mut request = report::dry_run_json(backend, &message, parts);
        let capture = crate::wire::Capture::start()
            .await
            .map_err(|e| Failure::error(format!("cannot start the dry-run capture: {e}")))?;
        request["wire"] = wire_of(backend, &capture, &message).await;
        print_dry_run(&request, json);
        return Ok(Exit::Ok);
    }

    let result = backend.route(message.kind()).send(backend, &message).await;
    let recorded = recorded_id(backend, message.reference().as_str()).await;
    match result {
        Ok(receipt) => {
            let accepted = receipt.accepted().count() as u64;
            let failed = receipt.failed().count() as u64;
            let unknown = receipt.unknown().count() as u64;
            let failure = receipt
                .failed()
                .filter_map(|o| o.error())
                .map(Exit::for_error)
                .max();
            let exit = Exit::for_counts(accepted, failed, unknown, failure);
            if json {
                let mut doc = report::receipt_json(&receipt);
                doc["exit_code"] = json!(exit.code());
                doc["store_id"] = json!(recorded);
                println!("{doc}");
            } else {
                for outcome in &receipt.outcomes {
                    let id = outcome.message_id.as_deref().unwrap_or("-");
                    match outcome.error() {
                        None => println!(
                            "{} {}: {} (message id {id})",
                            report::status_name(&outcome.status),
                            outcome.recipient,
                            outcome.provider
                        ),
                        Some(error) => println!("failed {}: {error}", outcome.recipient),
                    }
                }
                if let Some(parts) = receipt.billed_parts {
                    println!("billed parts: {parts}");
                }
                for line in report::attempt_lines(&receipt.attempts) {
                    println!("{line}");
                }
                if let Some(id) = &recorded {
                    println!("recorded in the store as message {id} (sms status {id})");
                }
                if unknown > 0 {
                    println!(
                        "outcome unknown for {unknown} recipient(s): it may have gone out; do not resend blindly"
                    );
                }
            }
            Ok(exit)
        }
        Err(error) => {
            let exit = Exit::for_error(&error);
            if json {
                let doc = json!({
                    "exit_code": exit.code(),
                    "error_kind": error.kind().as_str(),
                    "error_code": error.code(),
                    "error": error.to_string(),
                    "attempts": error.attempts().iter().map(report::attempt_json).collect::<Vec<_>>(),
                    "store_id": recorded,
                });
                println!("{doc}");
                Ok(exit)
            } else {
                let mut lines = vec![format!("not sent: {error}")];
                lines.extend(report::attempt_lines(error.attempts()));
                if let Some(id) = &recorded {
                    lines.push(format!("recorded in the store as message {id} (sms status {id})"));
                }
                if exit == Exit::Unknown {
                    lines.push("the outcome is unknown: it may have gone out; do not resend blindly".into());
                }
                Err(Failure::new(exit, lines.join("\n")))
            }
        }
    }
}

/// The store's id of the message recorded under `reference`, when there is a store (a failed read
/// only loses the hint: the send's result is what matters).
async fn recorded_id(backend: &Backend, reference: &str) -> Option<String> {
    let store = backend.store.as_ref()?;
    match store.message_by_reference(reference).await {
        Ok(message) => message.map(|m| m.id),
        Err(error) => {
            eprintln!("sms: the message store could not be read back: {error}");
            None
        }
    }
}

/// The requests each provider of the message's route would receive (see [`crate::wire`]).
pub async fn wire_of(
    backend: &Backend,
    capture: &crate::wire::Capture,
    message: &Message,
) -> serde_json::Value {
    let mut wire = Vec::new();
    for provider in backend.route(message.kind()).providers() {
        wire.push(
            capture
                .requests_of(&backend.config, &provider.name, message)
                .await,
        );
    }
    serde_json::Value::Array(wire)
}

/// Prints what a dry run would send.
pub fn print_dry_run(request: &serde_json::Value, json: bool) {
    if json {
        println!("{request}");
    } else {
        let names = |v: &serde_json::Value| {
            v.as_array()
                .map(|a| a.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>().join(","))
                .unwrap_or_default()
        };
        println!(
            "dry run, nothing sent: to {} via {} ({}){}",
            names(&request["to"]),
            request["provider"].as_str().unwrap_or("-"),
            request["vendor"].as_str().unwrap_or("-"),
            match names(&request["fallbacks"]) {
                f if f.is_empty() => String::new(),
                f => format!(", then {f} on failure"),
            }
        );
        println!("  body: {}", request["body"]);
        println!("  reference: {}", request["reference"].as_str().unwrap_or("-"));
        if let Some(at) = request["scheduled"].as_str() {
            println!("  scheduled: {at}");
        }
        println!("  billed parts: {}", request["billed_parts"]);
        for provider in request["wire"].as_array().into_iter().flatten() {
            let name = provider["provider"].as_str().unwrap_or("-");
            if let Some(error) = provider["error"].as_str() {
                println!("  {name}: no wire preview ({error})");
            }
            for r in provider["requests"].as_array().into_iter().flatten() {
                println!(
                    "  {name} would receive: {} {}",
                    r["method"].as_str().unwrap_or("-"),
                    r["url"].as_str().unwrap_or("-")
                );
                for field in r["form"].as_array().into_iter().flatten() {
                    println!(
                        "    {} = {}",
                        field[0].as_str().unwrap_or(""),
                        field[1].as_str().unwrap_or("")
                    );
                }
            }
        }
    }
}
