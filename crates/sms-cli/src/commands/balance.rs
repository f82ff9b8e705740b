//! `sms balance`: every provider's balance in one table.

use serde_json::json;

use crate::backend::Backend;
use crate::exit::{Exit, Outcome};

/// Queries every provider concurrently and prints one row each.
///
/// # Errors
/// None of its own: a provider's failure is a row of the table, and the exit code is the worst one.
pub async fn run(backend: &Backend, json: bool) -> Outcome {
    let balances = backend.chain.balances().await;
    let mut exit = Exit::Ok;
    let mut rows = Vec::new();
    for (name, result) in &balances {
        match result {
            Ok(balance) => rows.push(json!({"provider": name, "amount": balance.amount, "unit": format!("{:?}", balance.unit).to_lowercase()})),
            Err(error) => {
                exit = exit.max(Exit::for_error(error));
                rows.push(json!({"provider": name, "error_kind": error.kind().as_str(), "error": error.to_string()}));
            }
        }
    }
    if json {
        println!("{}", json!({"balances": rows, "exit_code": exit.code()}));
    } else {
        println!("{:<16} {:>12}  unit", "provider", "balance");
        for row in &rows {
            match row["amount"].as_i64() {
                Some(amount) => println!("{:<16} {amount:>12}  {}", row["provider"].as_str().unwrap_or(""), row["unit"].as_str().unwrap_or("")),
                None => println!("{:<16} {:>12}  {}", row["provider"].as_str().unwrap_or(""), "error", row["error"].as_str().unwrap_or("")),
            }
        }
    }
    Ok(exit)
}
