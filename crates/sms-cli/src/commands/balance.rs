//! `sms balance`: every provider's balance in one table.

use futures_util::future::join_all;
use serde_json::json;

use crate::backend::Backend;
use crate::exit::{Exit, Outcome};

/// Queries every provider of the config concurrently (in the chain or not) and prints one row each;
/// the exit code is the worst failure's.
///
/// # Errors
/// None of its own: a provider's failure is a row of the table.
pub async fn run(backend: &Backend, json: bool) -> Outcome {
    let balances = join_all(
        backend
            .providers
            .iter()
            .map(|p| async move { (p, p.balance.balance().await) }),
    )
    .await;
    let mut exit = Exit::Ok;
    let mut rows = Vec::new();
    for (provider, result) in &balances {
        match result {
            Ok(balance) => rows.push(json!({
                "provider": provider.name, "vendor": provider.vendor, "amount": balance.amount,
                "unit": format!("{:?}", balance.unit).to_lowercase(),
            })),
            Err(error) => {
                exit = exit.max(Exit::for_error(error));
                rows.push(json!({"provider": provider.name, "vendor": provider.vendor,
                                 "error_kind": error.kind().as_str(), "error": error.to_string()}));
            }
        }
    }
    if json {
        println!("{}", json!({"balances": rows, "exit_code": exit.code()}));
    } else {
        println!("{:<16} {:<12} {:>12}  unit", "provider", "vendor", "balance");
        for row in &rows {
            let name = row["provider"].as_str().unwrap_or("");
            let vendor = row["vendor"].as_str().unwrap_or("");
            match row["amount"].as_i64() {
                Some(amount) => println!(
                    "{name:<16} {vendor:<12} {amount:>12}  {}",
                    row["unit"].as_str().unwrap_or("")
                ),
                None => println!(
                    "{name:<16} {vendor:<12} {:>12}  {}",
                    "error",
                    row["error"].as_str().unwrap_or("")
                ),
            }
        }
    }
    Ok(exit)
}
