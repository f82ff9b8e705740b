//! Form decoding, shared by push parsers (feature-independent) and the test server; re-exported as
//! `sms_core::http::percent_decode`.

/// Decodes `application/x-www-form-urlencoded` bytes: `+` is a space, `%XX` a byte, and a `%`
/// without two hex digits stays as it is. The result is bytes, not text, so that a GBK provider
/// decodes it in its own charset.
///
/// ```
/// use sms_core::http::percent_decode;
/// assert_eq!(percent_decode(b"a%26b+c%E4%B8%AD"), "a&b c中".as_bytes());
/// assert_eq!(percent_decode(b"100%+%zz%4"), b"100% %zz%4");
/// ```
pub fn percent_decode(input: &[u8]) -> Vec<u8> {
    fn hex(b: u8) -> Option<u8> {
        char::from(b).to_digit(16).and_then(|d| u8::try_from(d).ok())
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                input.get(i + 1).copied().and_then(hex),
                input.get(i + 2).copied().and_then(hex),
            ) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            byte => out.push(byte),
        }
        i += 1;
    }
    out
}
