//! `sms template add`: registers a template with ihuyi.

use serde_json::json;

use crate::backend::Backend;
use crate::exit::{Exit, Failure, Outcome};

/// Registers the text and prints the template id.
///
/// # Errors
/// No ihuyi provider configured (exit 5); the provider's failure.
pub async fn add(backend: &Backend, text: &str, json: bool) -> Outcome {
    let Some(ihuyi) = backend.ihuyi() else {
        return Err(Failure::config(
            "no ihuyi provider is configured: templates are registered with ihuyi",
        ));
    };
    let id = ihuyi.add_template(text).await?;
    if json {
        println!("{}", json!({"template_id": id}));
    } else {
        println!("template registered: id {id} (it can be used once the provider approves it)");
    }
    Ok(Exit::Ok)
}
