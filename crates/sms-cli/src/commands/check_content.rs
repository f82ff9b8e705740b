//! `sms check-content`: asks Juxiang whether a text may be sent.

use serde_json::json;
use sms::juxiang::ContentCheck;

use crate::backend::Backend;
use crate::exit::{Exit, Failure, Outcome};

/// Prints the verdict; a refused text exits 6.
///
/// # Errors
/// No Juxiang provider configured (exit 5); the provider's failure.
pub async fn run(backend: &Backend, text: &str, json: bool) -> Outcome {
    let Some(juxiang) = backend.juxiang() else {
        return Err(Failure::config(
            "no Juxiang provider is configured: content checks use Juxiang",
        ));
    };
    let verdict = juxiang.check_content(text).await?;
    let (legal, reason) = match &verdict {
        ContentCheck::Legal => (true, String::new()),
        ContentCheck::Illegal { word } => (false, format!("contains the refused word {word:?}")),
        ContentCheck::SuspectedPremium => (false, "looks like premium-rate (SP) content".to_owned()),
    };
    if json {
        println!("{}", json!({"legal": legal, "reason": reason}));
    } else if legal {
        println!("legal: the provider accepts this text");
    } else {
        println!("refused: {reason}");
    }
    Ok(if legal { Exit::Ok } else { Exit::Rejected })
}
