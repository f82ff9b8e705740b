//! Request parameters from the query string and a form body, in UTF-8 (ihuyi, MMS) or GBK
//! (Juxiang).

use std::borrow::Cow;

/// How percent-decoded parameter bytes are turned into text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Charset {
    Utf8,
    Gbk,
}

/// A parameter value was not valid in the product's charset.
#[derive(Debug)]
pub(crate) struct BadEncoding {
    pub(crate) key: String,
}

/// Decoded parameters; a body value overrides a query value of the same name.
#[derive(Debug, Default)]
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Parses the query string and, when the body is a form (or has no content type), the body.
    /// `multipart/form-data` bodies are read too (file parts as raw bytes, see [`Params::bytes`]).
    pub(crate) fn parse(
        query: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
        charset: Charset,
    ) -> Result<Params, BadEncoding> {
        let mut params = Params::default();
        if let Some(q) = query {
            params.add_urlencoded(q.as_bytes(), charset)?;
        }
        let ct = content_type.unwrap_or("").to_ascii_lowercase();
        if ct.starts_with("multipart/form-data") {
            if let Some(boundary) = multipart_boundary(content_type.unwrap_or("")) {
                for (name, value) in crate::multipart::parts(body, &boundary) {
                    let key = decode(&name, charset, "")?;
                    // A file part may be binary (a raw MMS zip): keep what is not text as
                    // base64, the form CreateMms takes anyway.
                    let text = match decode(&value, charset, &key) {
                        Ok(t) => t,
                        Err(_) => {
                            use base64::Engine as _;
                            base64::engine::general_purpose::STANDARD.encode(&value)
                        }
                    };
                    params.pairs.push((key, text));
                }
            }
        } else if !body.is_empty()
            && (ct.is_empty()
                || ct.starts_with("application/x-www-form-urlencoded")
                || ct.starts_with("text/plain"))
        {
            params.add_urlencoded(body, charset)?;
        }
        Ok(params)
    }

    fn add_urlencoded(&mut self, input: &[u8], charset: Charset) -> Result<(), BadEncoding> {
        for piece in input.split(|&b| b == b'&') {
            if piece.is_empty() {
                continue;
            }
            let (k, v) = match piece.iter().position(|&b| b == b'=') {
                Some(i) => (&piece[..i], &piece[i + 1..]),
                None => (piece, &[][..]),
            };
            let key = decode(&percent_decode(k), charset, "")?;
            let value = decode(&percent_decode(v), charset, &key)?;
            self.pairs.push((key, value));
        }
        Ok(())
    }

    /// The last value of `key` (case-insensitive name), or `""` when absent.
    pub(crate) fn get(&self, key: &str) -> &str {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map_or("", |(_, v)| v.as_str())
    }
}

fn decode(bytes: &[u8], charset: Charset, key: &str) -> Result<String, BadEncoding> {
    let text: Option<Cow<'_, str>> = match charset {
        Charset::Utf8 => std::str::from_utf8(bytes).ok().map(Cow::Borrowed),
        Charset::Gbk => encoding_rs::GBK.decode_without_bom_handling_and_without_replacement(bytes),
    };
    text.map(Cow::into_owned)
        .ok_or_else(|| BadEncoding { key: key.to_owned() })
}

/// `application/x-www-form-urlencoded` decoding to bytes: `+` is a space, `%XX` a byte; a `%` not
/// followed by two hex digits stays as it is.
pub(crate) fn percent_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = input.get(i + 1).and_then(|&b| hex(b));
                let lo = input.get(i + 2).and_then(|&b| hex(b));
                if let (Some(hi), Some(lo)) = (hi, lo) {
                    out.push(hi << 4 | lo);
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-encodes `bytes` for a form body (everything but unreserved characters).
pub(crate) fn percent_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 15)]));
        }
    }
    out
}

fn multipart_boundary(content_type: &str) -> Option<String> {
    content_type.split(';').find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_owned())
            .filter(|b| !b.is_empty())
    })
}
