//! `sms bulk`: validate every row, confirm, then stream the rows through the chain with bounded
//! concurrency, writing the results file as it goes.

mod budget;
mod progress;
mod results;
mod rows;

use std::cell::RefCell;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::StreamExt;
use serde_json::json;
use sms::{Error, MessageKind, Receipt};

use crate::backend::Backend;
use crate::cli::BulkArgs;
use crate::exit::{Exit, Failure, Outcome};
use crate::report;
use progress::Progress;
use results::{ResultLine, ResultsWriter};
use rows::{Row, RowReader};

pub use results::read_previous;

/// At most this many bad rows are listed; the rest are counted.
const MAX_LISTED_BAD_ROWS: usize = 100;

/// What the validation pass found.
#[derive(Debug)]
struct Plan {
    rows: u64,
    to_send: u64,
    parts: u64,
    skipped: u64,
    kind: MessageKind,
    bad: Vec<rows::BadRow>,
    bad_count: u64,
    /// Billed parts per destination country code.
    parts_by_country: std::collections::BTreeMap<u16, u64>,
}

/// Runs `sms bulk`.
///
/// # Errors
/// Bad rows (exit 2, nothing sent), an unreadable file, no confirmation (exit 1).
pub async fn run(backend: &Backend, args: &BulkArgs, json: bool) -> Outcome {
    let stamp = results::SourceStamp::of(&args.file)?;
    let previous = match &args.resume {
        Some(path) => {
            stamp.check(path)?;
            read_previous(path)?
        }
        None => results::Previous::default(),
    };

    // Pass 1: every row is checked before anything is sent.
    let kind = if args.body.template.is_some() {
        MessageKind::Template
    } else {
        MessageKind::Text
    };
    let mut plan = Plan {
        rows: 0,
        to_send: 0,
        parts: 0,
        skipped: 0,
        kind,
        bad: Vec::new(),
        bad_count: 0,
        parts_by_country: std::collections::BTreeMap::new(),
    };
    for row in RowReader::open(&args.file, backend, &args.body)? {
        plan.rows += 1;
        match row {
            Ok(row) if !previous.settled.contains(row.index) => {
                plan.to_send += 1;
                plan.parts += row.parts as u64;
                let country = row
                    .message
                    .recipients()
                    .first()
                    .map_or(sms::failover::MAINLAND, sms::PhoneNumber::country_code);
                *plan.parts_by_country.entry(country).or_default() += row.parts as u64;
            }
            Ok(_) => plan.skipped += 1,
            Err(bad) => {
                plan.bad_count += 1;
                if plan.bad.len() < MAX_LISTED_BAD_ROWS {
                    plan.bad.push(bad);
                }
            }
        }
    }
    if plan.bad_count > 0 {
        let file = args.file.display();
        let mut lines: Vec<String> = plan
            .bad
            .iter()
            .map(|b| format!("{file}:{}: {}", b.line, b.reason))
            .collect();
        if plan.bad_count > plan.bad.len() as u64 {
            lines.push(format!("… and {} more", plan.bad_count - plan.bad.len() as u64));
        }
        lines.push(format!(
            "{} bad row(s) of {}: nothing was sent",
            plan.bad_count, plan.rows
        ));
        return Err(Failure::usage(lines.join("\n")));
    }
    let route = backend.route(plan.kind);
    let estimate = budget::Estimate {
        account: route.providers().first().map(|p| p.name.as_str()),
        parts_by_country: &plan.parts_by_country,
    };
    print_plan(backend, &plan, &estimate, json);
    // The caps' remainder, before any request (a dry run shows it too).
    budget::check(backend, &estimate).await?;

    if args.body.dry_run {
        let capture = crate::wire::Capture::start()
            .await
            .map_err(|e| Failure::error(format!("cannot start the dry-run capture: {e}")))?;
        for row in RowReader::open(&args.file, backend, &args.body)?.flatten() {
            if previous.settled.contains(row.index) {
                continue;
            }
            let mut request = report::dry_run_json(backend, &row.message, row.parts);
            request["row"] = json!(row.index);
            request["wire"] = crate::commands::send::wire_of(backend, &capture, &row.message).await;
            crate::commands::send::print_dry_run(&request, json);
        }
        return Ok(Exit::Ok);
    }
    if !args.yes && !confirm()? {
        return Err(Failure::error("not confirmed: nothing was sent"));
    }

    let results_path = args
        .resume
        .clone()
        .unwrap_or_else(|| default_results_path(&args.file, args.results.as_ref()));
    let mut writer = match &args.resume {
        Some(path) => ResultsWriter::append(path)?,
        None => {
            let writer = ResultsWriter::create(&results_path)?;
            stamp.write(&results_path)?;
            writer
        }
    };
    let mut totals = Totals::default();
    // Rows an earlier run left in flight may have gone out: recorded as unknown, never resent.
    for (row, number) in &previous.in_flight {
        let error = "interrupted while in flight: it may have gone out";
        writer.write(&ResultLine {
            row: *row,
            number,
            status: "unknown",
            error,
            ..Default::default()
        })?;
        totals.unknown += 1;
        emit(
            json,
            &json!({"row": row, "number": number, "status": "unknown", "error": error}),
            None,
        );
    }

    let stop = Arc::new(AtomicBool::new(false));
    spawn_stop_on_signal(stop.clone());
    let progress = Progress::new(plan.to_send, json);
    let writer = RefCell::new(writer);
    let write_error: RefCell<Option<Failure>> = RefCell::new(None);

    let pending = RowReader::open(&args.file, backend, &args.body)?
        .flatten()
        .filter(|row| !previous.settled.contains(row.index))
        .take_while(|_| !stop.load(Ordering::SeqCst) && write_error.borrow().is_none())
        .filter_map(|row| {
            // The `sending` line is on disk before the request leaves.
            let line = ResultLine {
                row: row.index,
                number: &row.number,
                status: "sending",
                ..Default::default()
            };
            match writer.borrow_mut().write(&line) {
                Ok(()) => Some(row),
                Err(e) => {
                    *write_error.borrow_mut() = Some(e);
                    None
                }
            }
        });
    let mut outcomes = futures_util::stream::iter(pending)
        .map(|row| async move {
            let result = backend
                .route(row.message.kind())
                .send(backend, &row.message)
                .await;
            (row, result)
        })
        .buffer_unordered(usize::from(args.concurrency));
    while let Some((row, result)) = outcomes.next().await {
        let record = totals.record(&row, &result);
        writer.borrow_mut().write(&record.line(&row))?;
        progress.advance(&totals);
        emit(json, &record.json(&row), progress.bar());
    }
    drop(outcomes);
    progress.finish();
    if let Some(error) = write_error.into_inner() {
        return Err(error);
    }

    let interrupted = stop.load(Ordering::SeqCst) && totals.done() < plan.to_send;
    let mut exit = Exit::for_counts(totals.accepted, totals.failed, totals.unknown, totals.failure);
    if interrupted && exit == Exit::Ok {
        exit = if totals.accepted > 0 {
            Exit::Partial
        } else {
            Exit::Error
        };
    }
    let summary = json!({
        "summary": true,
        "rows": plan.rows,
        "sent": totals.done(),
        "accepted": totals.accepted,
        "failed": totals.failed,
        "unknown": totals.unknown,
        "billed_parts": totals.parts,
        "interrupted": interrupted,
        "results": results_path.display().to_string(),
        "exit_code": exit.code(),
    });
    if json {
        println!("{summary}");
    } else {
        println!(
            "accepted {}, failed {}, unknown {}; billed parts {}; results in {}",
            totals.accepted,
            totals.failed,
            totals.unknown,
            totals.parts,
            results_path.display()
        );
        if interrupted {
            println!(
                "interrupted: {} row(s) not sent; continue with: sms bulk {} --resume {}",
                plan.to_send - totals.done(),
                args.file.display(),
                results_path.display()
            );
        }
        if totals.unknown > 0 {
            println!(
                "{} row(s) have an unknown outcome: they may have gone out; do not resend them blindly",
                totals.unknown
            );
        }
    }
    Ok(exit)
}

/// Thousandths of the currency unit as a decimal amount, for display.
#[allow(clippy::cast_precision_loss)] // display only; integer thousandths are the truth
fn to_unit(thousandths: u64) -> f64 {
    thousandths as f64 / 1000.0
}

fn default_results_path(file: &std::path::Path, given: Option<&PathBuf>) -> PathBuf {
    given
        .cloned()
        .unwrap_or_else(|| file.with_extension("results.csv"))
}

fn print_plan(backend: &Backend, plan: &Plan, estimate: &budget::Estimate<'_>, json: bool) {
    let skipped = plan.skipped;
    let prices = &backend.config.spend().prices;
    // `[spend.prices]` in thousandths of the currency unit (a provider's deprecated
    // `price_per_part` is its mainland price there).
    let thousandths = estimate.cost(prices);
    let price = estimate
        .account
        .and_then(|a| prices.price(a, sms::failover::MAINLAND))
        .map(to_unit);
    let cost = thousandths.map(to_unit);
    if json {
        println!(
            "{}",
            json!({"plan": true, "rows": plan.rows, "recipients": plan.to_send, "skipped": skipped,
                   "billed_parts": plan.parts, "price_per_part": price, "estimated_cost": cost,
                   "estimated_cost_thousandths": thousandths})
        );
    } else {
        // The plan goes to stderr so that stdout stays the results.
        eprintln!(
            "{} recipient(s), {} billed part(s), estimated cost: {}{}",
            plan.to_send,
            plan.parts,
            thousandths.map_or_else(
                || "unknown (no price in [spend.prices] for some destination)".to_owned(),
                |c| format!("{}.{:03} {}", c / 1000, c % 1000, backend.config.spend().currency)
            ),
            if skipped > 0 {
                format!("; {skipped} row(s) already settled, skipped")
            } else {
                String::new()
            }
        );
    }
}

/// Asks on stderr and reads a line from stdin.
fn confirm() -> Result<bool, Failure> {
    let mut stderr = std::io::stderr();
    let _ = write!(stderr, "Send? [y/N] ");
    let _ = stderr.flush();
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let _ = writeln!(stderr, "(reading the answer from stdin; pass --yes to skip)");
    }
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// Ctrl-C (or SIGTERM) stops feeding rows; requests in flight finish and are recorded.
fn spawn_stop_on_signal(stop: Arc<AtomicBool>) {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let Ok(mut term) = signal(SignalKind::terminate()) else {
                return;
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        stop.store(true, Ordering::SeqCst);
        eprintln!("stopping: waiting for the requests in flight…");
    });
}

fn emit(json: bool, line: &serde_json::Value, bar: Option<&indicatif::ProgressBar>) {
    if json {
        println!("{line}");
    } else if line["status"] != "accepted" {
        let text = format!(
            "row {}: {} {}{}",
            line["row"],
            line["number"].as_str().unwrap_or(""),
            line["status"].as_str().unwrap_or(""),
            line["error"]
                .as_str()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        );
        match bar {
            Some(bar) => bar.println(text),
            None => println!("{text}"),
        }
    }
}

/// Running counts.
#[derive(Debug, Default)]
pub struct Totals {
    accepted: u64,
    failed: u64,
    unknown: u64,
    parts: u64,
    failure: Option<Exit>,
}

struct Recorded {
    status: &'static str,
    provider: String,
    message_id: String,
    error_code: String,
    error: String,
    attempts: usize,
}

impl Totals {
    fn done(&self) -> u64 {
        self.accepted + self.failed + self.unknown
    }

    fn record(&mut self, row: &Row, result: &Result<Receipt, Error>) -> Recorded {
        match result {
            Ok(receipt) => {
                let outcome = receipt.outcomes.first();
                let status = outcome.map_or("unknown", |o| report::status_name(&o.status));
                let error = outcome.and_then(|o| o.error());
                match status {
                    "accepted" => self.accepted += 1,
                    "failed" => self.failed += 1,
                    _ => self.unknown += 1,
                }
                if let Some(error) = error {
                    self.failure = self.failure.max(Some(Exit::for_error(error)));
                }
                self.parts += u64::from(receipt.billed_parts.unwrap_or(0));
                Recorded {
                    status,
                    provider: outcome.map(|o| o.provider.clone()).unwrap_or_default(),
                    message_id: outcome.and_then(|o| o.message_id.clone()).unwrap_or_default(),
                    error_code: error.and_then(Error::code).unwrap_or("").to_owned(),
                    error: error.map(ToString::to_string).unwrap_or_default(),
                    attempts: receipt.attempts.len() + 1,
                }
            }
            Err(error) => {
                let status = if error.is_ambiguous() || Exit::for_error(error) == Exit::Unknown {
                    self.unknown += 1;
                    "unknown"
                } else {
                    self.failed += 1;
                    self.failure = self.failure.max(Some(Exit::for_error(error)));
                    "failed"
                };
                let _ = row;
                Recorded {
                    status,
                    provider: error.provider().unwrap_or("").to_owned(),
                    message_id: String::new(),
                    error_code: error.code().unwrap_or("").to_owned(),
                    error: error.to_string(),
                    attempts: error.attempts().len().max(1),
                }
            }
        }
    }
}

impl Recorded {
    fn line<'a>(&'a self, row: &'a Row) -> ResultLine<'a> {
        ResultLine {
            row: row.index,
            number: &row.number,
            status: self.status,
            provider: &self.provider,
            message_id: &self.message_id,
            error_code: &self.error_code,
            attempts: self.attempts,
            error: &self.error,
        }
    }

    fn json(&self, row: &Row) -> serde_json::Value {
        json!({
            "row": row.index,
            "number": row.number,
            "status": self.status,
            "provider": self.provider,
            "message_id": self.message_id,
            "error_code": self.error_code,
            "attempts": self.attempts,
            "error": if self.error.is_empty() { None } else { Some(&self.error) },
        })
    }
}
