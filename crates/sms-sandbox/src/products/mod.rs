//! The simulated provider APIs: routing by path, then one module per provider family.

pub(crate) mod ihuyi;
pub(crate) mod juxiang;
pub(crate) mod mms;

use std::net::IpAddr;
use std::time::SystemTime;

use hyper::StatusCode;
use md5::{Digest, Md5};
use tokio::time::Instant;

use crate::config::Product;
use crate::params::{BadEncoding, Charset, Params};
use crate::pushes::PushJob;
use crate::render::Reply;
use crate::state::Shared;

/// One request as the product handlers see it.
pub(crate) struct Ctx<'a> {
    pub(crate) shared: &'a Shared,
    pub(crate) product: Product,
    /// The last path segment (`gsend.asp`); only Juxiang routes on it.
    pub(crate) page: &'static str,
    pub(crate) peer: IpAddr,
    pub(crate) now: SystemTime,
    pub(crate) instant: Instant,
    /// A provider code forced by a fault.
    pub(crate) forced: Option<String>,
}

/// An answer plus the pushes it causes.
pub(crate) struct Outcome {
    pub(crate) reply: Reply,
    pub(crate) pushes: Vec<PushJob>,
}

impl From<Reply> for Outcome {
    fn from(reply: Reply) -> Self {
        Outcome {
            reply,
            pushes: Vec::new(),
        }
    }
}

/// The product and page served at `path`, if any. Juxiang pages are matched case-insensitively,
/// as IIS does.
pub(crate) fn route(path: &str) -> Option<(Product, &'static str)> {
    match path {
        "/webservice/sms.php" => return Some((Product::IhuyiSms, "sms.php")),
        "/webservice/isms.php" => return Some((Product::IhuyiInternational, "isms.php")),
        "/webservice/voice.php" => return Some((Product::IhuyiVoice, "voice.php")),
        "/webservice/api" | "/webservice/api/" => return Some((Product::Mms, "api")),
        _ => {}
    }
    if !path.get(..6)?.eq_ignore_ascii_case("/send/") {
        return None;
    }
    let name = path.get(6..)?;
    juxiang::PAGES
        .iter()
        .find(|p| p.eq_ignore_ascii_case(name))
        .map(|p| (Product::Juxiang, *p))
}

/// Answers one provider request whose body was read already.
pub(crate) fn answer(ctx: &Ctx<'_>, query: Option<&str>, content_type: Option<&str>, body: &[u8]) -> Outcome {
    let charset = match ctx.product {
        Product::Juxiang => Charset::Gbk,
        _ => Charset::Utf8,
    };
    let params = match Params::parse(query, content_type, body, charset) {
        Ok(p) => p,
        Err(BadEncoding { key }) => {
            let what = if key.is_empty() {
                "a parameter name".to_owned()
            } else {
                format!("parameter `{key}`")
            };
            let charset = match charset {
                Charset::Utf8 => "UTF-8",
                Charset::Gbk => "GBK",
            };
            return Reply::plain(
                StatusCode::BAD_REQUEST,
                format!("{what} is not valid {charset} after percent-decoding"),
            )
            .into();
        }
    };
    match ctx.product {
        Product::IhuyiSms | Product::IhuyiInternational | Product::IhuyiVoice => ihuyi::answer(ctx, &params),
        Product::Mms => mms::answer(ctx, &params),
        Product::Juxiang => juxiang::answer(ctx, &params),
    }
}

/// Lowercase hex MD5 of the concatenated parts (the ihuyi dynamic password).
pub(crate) fn md5_hex(parts: &[&str]) -> String {
    let mut hasher = Md5::new();
    for p in parts {
        hasher.update(p.as_bytes());
    }
    let digest = hasher.finalize();
    let mut out = String::with_capacity(32);
    for b in digest {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    out
}

/// Whether `ip` may use an account with this allow-list (empty = any).
pub(crate) fn ip_allowed(allowed: &[IpAddr], ip: IpAddr) -> bool {
    allowed.is_empty()
        || allowed.iter().any(|a| {
            *a == ip
                || match (a, ip) {
                    (IpAddr::V4(a), IpAddr::V6(b)) => b.to_ipv4_mapped() == Some(*a),
                    _ => false,
                }
        })
}
