//! A small, tolerant `multipart/form-data` reader (for clients that upload an MMS zip as a file).

/// The named parts of a multipart body, as (name, content) byte pairs. Malformed parts are skipped.
pub(crate) fn parts(body: &[u8], boundary: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    let delimiter = [b"--".as_slice(), boundary.as_bytes()].concat();
    let mut out = Vec::new();
    let mut positions = Vec::new();
    let mut from = 0;
    while let Some(i) = find(&body[from..], &delimiter) {
        positions.push(from + i);
        from += i + delimiter.len();
    }
    for pair in positions.windows(2) {
        let (start, end) = (pair[0] + delimiter.len(), pair[1]);
        let part = &body[start..end];
        let part = part.strip_prefix(b"\r\n").unwrap_or(part);
        let part = part.strip_suffix(b"\r\n").unwrap_or(part);
        let Some(split) = find(part, b"\r\n\r\n") else {
            continue;
        };
        let (headers, content) = (&part[..split], &part[split + 4..]);
        if let Some(name) = disposition_name(headers) {
            out.push((name, content.to_vec()));
        }
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn disposition_name(headers: &[u8]) -> Option<Vec<u8>> {
    for line in headers.split(|&b| b == b'\n') {
        let lower = line.to_ascii_lowercase();
        if !lower.starts_with(b"content-disposition:") {
            continue;
        }
        // `filename="` also contains `name="`: take the first that is not preceded by `file`.
        let mut search_from = 0;
        let at = loop {
            let j = search_from + find(&lower[search_from..], b"name=\"")?;
            if j < 4 || &lower[j - 4..j] != b"file" {
                break j;
            }
            search_from = j + 6;
        };
        let rest = &line[at + 6..];
        let end = rest.iter().position(|&b| b == b'"')?;
        return Some(rest[..end].to_vec());
    }
    None
}
