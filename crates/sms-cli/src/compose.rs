//! Turns command-line options and CSV rows into messages, and checks them before anything is sent.

use sms::{
    AmbiguityPolicy, BeijingTime, Message, MessageBody, MessageSenderExt, MmsContent, PhoneNumber,
    TemplateText, VoiceCode,
};

use crate::backend::{Backend, Route};
use crate::cli::{BodyArgs, Policy};
use crate::exit::Failure;

/// Parses one number, naming it in the error.
///
/// # Errors
/// A usage failure naming the number and why it is invalid.
pub fn number(input: &str) -> Result<PhoneNumber, Failure> {
    input
        .trim()
        .parse::<PhoneNumber>()
        .map_err(|e| Failure::usage(format!("invalid number {:?}: {e}", input.trim())))
}

/// Fills `{name}` placeholders of a template text.
pub fn render(template: &str, vars: &[(String, String)]) -> String {
    let mut text = template.to_owned();
    for (name, value) in vars {
        text = text.replace(&format!("{{{name}}}"), value);
    }
    text
}

/// Splits `--var NAME=VALUE` options.
///
/// # Errors
/// A usage failure for an option without `=`.
pub fn parse_vars(vars: &[String]) -> Result<Vec<(String, String)>, Failure> {
    vars.iter()
        .map(|v| match v.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => Ok((name.trim().to_owned(), value.to_owned())),
            _ => Err(Failure::usage(format!("--var {v:?}: expected NAME=VALUE"))),
        })
        .collect()
}

/// A template body from an id, its text and variables.
///
/// # Errors
/// A usage failure when the template text is missing.
pub fn template_body(
    id: &str,
    text: Option<&str>,
    vars: Vec<(String, String)>,
) -> Result<MessageBody, Failure> {
    let Some(text) = text else {
        return Err(Failure::usage(
            "--template needs --template-text: the providers send the final text, which must match the \
             approved template",
        ));
    };
    let mut template = TemplateText::new(id, render(text, &vars));
    for (name, value) in vars {
        template = template.variable(name, value);
    }
    Ok(MessageBody::Template(template))
}

/// The body of `sms send`.
///
/// # Errors
/// A usage failure when no body or a bad voice code was given.
pub fn send_body(
    body: &BodyArgs,
    voice_code: Option<&str>,
    mms: Option<(&str, &str)>,
) -> Result<MessageBody, Failure> {
    if let Some(code) = voice_code {
        let code = VoiceCode::new(code).map_err(|e| Failure::usage(format!("--voice-code: {e}")))?;
        return Ok(MessageBody::VoiceCode(code));
    }
    if let Some((package, product)) = mms {
        return Ok(MessageBody::Mms(MmsContent::new(package, product)));
    }
    if let Some(id) = &body.template {
        return template_body(id, body.template_text.as_deref(), parse_vars(&body.vars)?);
    }
    match &body.text {
        Some(text) => Ok(MessageBody::Text(text.clone())),
        None => Err(Failure::usage(
            "nothing to send: give --text, --template, --voice-code or --mms",
        )),
    }
}

/// Applies `--at` and `--policy`.
///
/// # Errors
/// A usage failure for a time that cannot be read.
pub fn with_options(mut message: Message, body: &BodyArgs) -> Result<Message, Failure> {
    if let Some(at) = &body.at {
        let time = BeijingTime::parse_any(at).map_err(|e| Failure::usage(format!("--at {at:?}: {e}")))?;
        message = message.scheduled_at(time);
    }
    if let Some(policy) = body.policy {
        message = message.with_ambiguity_policy(match policy {
            Policy::AtMostOnce => AmbiguityPolicy::AtMostOnce,
            Policy::AtLeastOnce => AmbiguityPolicy::AtLeastOnce,
        });
    }
    Ok(message)
}

/// Checks a message against the providers that would carry it, before sending: what every provider
/// requires, their capabilities (kind, scheduling), the longest text any of them takes, emoji, and
/// GBK when one of them writes GBK. Returns the billed parts.
///
/// # Errors
/// A usage failure saying what is wrong.
pub fn check(backend: &Backend, message: &Message) -> Result<usize, Failure> {
    let route = backend.route(message.kind());
    let providers = route.providers();
    let preflight = match &route {
        Route::Chain(_) => backend.chain.preflight(message),
        Route::Direct(p) => p.sender.preflight(message),
        Route::Nowhere => {
            return Err(Failure::usage(format!(
                "no configured provider sends {:?} messages",
                message.kind()
            )));
        }
    };
    preflight.map_err(|e| Failure::usage(e.to_string()))?;
    // The chain's own capabilities cannot say this: their union counts providers that send no text.
    let limit = providers
        .iter()
        .map(|p| p.capabilities.max_text_chars)
        .try_fold(0usize, |max, limit| limit.map(|l| max.max(l)));
    if let (Some(limit), Some(text)) = (limit, message.body().text()) {
        let length = text.chars().count();
        if length > limit {
            return Err(Failure::usage(format!(
                "the text is {length} characters long; the longest any provider of the chain takes is {limit}"
            )));
        }
    }
    let unencodable = match message.body().text() {
        Some(text) if providers.iter().any(|p| p.gbk) => first_unencodable_gbk(text),
        _ => None,
    };
    if let Some((position, c)) = unencodable {
        return Err(Failure::usage(format!(
            "character {c:?} (U+{:04X}) at position {position} cannot be written in GBK, which a provider \
             of the chain uses",
            c as u32
        )));
    }
    message
        .estimated_parts()
        .map_err(|e| Failure::usage(e.to_string()))
}

/// The first character GBK cannot represent, counted in characters.
fn first_unencodable_gbk(text: &str) -> Option<(usize, char)> {
    let mut buffer = [0u8; 8];
    text.chars().enumerate().find(|(_, c)| {
        let (_, _, unmappable) = encoding_rs::GBK.encode(c.encode_utf8(&mut buffer));
        unmappable
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled() {
        let vars = vec![("code".to_owned(), "1234".to_owned())];
        assert_eq!(
            render("您的验证码是{code}。{other}", &vars),
            "您的验证码是1234。{other}"
        );
    }

    #[test]
    fn gbk_finds_the_first_unencodable_character() {
        assert_eq!(first_unencodable_gbk("验证码 1234"), None);
        assert_eq!(first_unencodable_gbk("ab\u{0E01}c"), Some((2, '\u{0E01}')));
    }

    #[test]
    fn vars_need_an_equals_sign() {
        assert!(parse_vars(&["code".to_owned()]).is_err());
        assert_eq!(
            parse_vars(&["a=b=c".to_owned()]).unwrap(),
            vec![("a".to_owned(), "b=c".to_owned())]
        );
    }
}
