//! Form encoding and decoding on raw bytes, shared by request builders, push parsers and the test
//! server; re-exported from `sms_core::raw::http`. The work is done by `form_urlencoded` and
//! `percent-encoding` (already in the tree through `url`); this module only fixes the conventions
//! every provider here uses (`+` for a space, bytes in and out so that GBK providers use their own
//! charset).

/// Decodes `application/x-www-form-urlencoded` bytes: `+` is a space, `%XX` a byte, and a `%`
/// without two hex digits stays as it is. The result is bytes, not text, so that a GBK provider
/// decodes it in its own charset.
///
/// ```
/// use sms_core::raw::http::percent_decode;
/// assert_eq!(percent_decode(b"a%26b+c%E4%B8%AD"), "a&b c中".as_bytes());
/// assert_eq!(percent_decode(b"100%+%zz%4"), b"100% %zz%4");
/// ```
pub fn percent_decode(input: &[u8]) -> Vec<u8> {
    let spaced: Vec<u8> = input.iter().map(|&b| if b == b'+' { b' ' } else { b }).collect();
    percent_encoding::percent_decode(&spaced).collect()
}

/// Percent-encodes bytes the way HTML forms do: alphanumerics and `*-._` stay, space becomes `+`,
/// everything else `%XX`. Works on any bytes, so GBK providers encode their own bytes with it.
///
/// ```
/// let mut out = String::new();
/// sms_core::raw::http::percent_encode_into(&mut out, "a b&中".as_bytes());
/// assert_eq!(out, "a+b%26%E4%B8%AD");
/// ```
pub fn percent_encode_into(out: &mut String, bytes: &[u8]) {
    out.extend(form_urlencoded::byte_serialize(bytes));
}

/// Form-encodes UTF-8 pairs as `application/x-www-form-urlencoded` (every reserved character
/// escaped, as [`percent_encode_into`] does).
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(pairs.iter().map(|(n, v)| n.len() + v.len() * 3 + 2).sum());
    for (name, value) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        percent_encode_into(&mut out, name.as_bytes());
        out.push('=');
        percent_encode_into(&mut out, value.as_bytes());
    }
    out
}
