//! What `--dry-run` shows of the wire: each provider's own client builds its request(s) for the
//! message, but sends them to a capturing listener on loopback instead of the provider, so what is
//! shown is exactly what the client would write (method, URL, form fields), and nothing leaves the
//! machine. Secrets are redacted by field (`password`, `pwd`, `newpwd`: keys, passwords and the
//! dynamic passwords signed with them), and a voice code wherever it appears. The capture answers
//! `503`, so a client that sends one request per recipient may stop after the first: the requests
//! shown are the first ones, and values that depend on the moment (`time`, a dynamic password) differ
//! at the real send.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use sms::config::{Config, ProviderSettings};
use sms::{Message, MessageBody, MessageSender};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Form fields whose values are secrets or signatures made with one, for every vendor.
const SECRET_FIELDS: [&str; 3] = ["password", "pwd", "newpwd"];

/// What replaces a secret.
const REDACTED: &str = "[redacted]";

/// The largest request the capture reads (a request this big is not an SMS).
const MAX_REQUEST: usize = 1 << 20;

/// One request as it would go on the wire.
#[derive(Debug, Clone)]
struct Captured {
    method: String,
    target: String,
    content_type: String,
    body: Vec<u8>,
}

/// The capturing listener.
pub struct Capture {
    origin: String,
    seen: Arc<Mutex<Vec<Captured>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Capture {
    /// Listens on 127.0.0.1 (a free port).
    ///
    /// # Errors
    /// When no port can be bound.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let origin = format!("http://{}", listener.local_addr()?);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let sink = sink.clone();
                tokio::spawn(async move {
                    if let Some(request) = read_request(&mut stream).await
                        && let Ok(mut seen) = sink.lock()
                    {
                        seen.push(request);
                    }
                    let _ = stream
                        .write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                        .await;
                });
            }
        });
        Ok(Self { origin, seen, task })
    }

    fn take(&self) -> Vec<Captured> {
        self.seen
            .lock()
            .map(|mut s| std::mem::take(&mut *s))
            .unwrap_or_default()
    }

    /// The requests the provider `name` of `config` would receive for `message`, as JSON.
    pub async fn requests_of(&self, config: &Config, name: &str, message: &Message) -> Value {
        let Some(provider) = config.provider(name) else {
            return json!({"provider": name, "error": "not in the config"});
        };
        let effective = config.effective_json();
        let shown = &effective["providers"][name];
        let url_of = |key: &str| shown[key].as_str().map(str::to_owned);
        let Some(base) = url_of("base_url") else {
            return json!({"provider": name, "error": "no base_url"});
        };
        let (origin, _) = split_origin(&base);
        // Juxiang's form is GBK, percent-encoded (its content type does not say so).
        let gbk = matches!(provider.settings, ProviderSettings::Juxiang(_));
        let sender = match self.client_for(&provider.settings, &base, url_of("international_base_url")) {
            Ok(sender) => sender,
            Err(error) => return json!({"provider": name, "error": error.to_string()}),
        };
        self.take();
        // The capture answers at once; the timeout only guards a client that would wait anyway.
        let _ = tokio::time::timeout(Duration::from_secs(10), sender.send(message)).await;
        let code = match message.body() {
            MessageBody::VoiceCode(code) => Some(code.as_str().to_owned()),
            _ => None,
        };
        let requests: Vec<Value> = self
            .take()
            .into_iter()
            .map(|r| {
                // International requests go to their own host: name it from the captured path.
                let origin = match url_of("international_base_url") {
                    Some(intl) if r.target.starts_with(split_origin(&intl).1) && intl != base => {
                        split_origin(&intl).0.to_owned()
                    }
                    _ => origin.to_owned(),
                };
                let form = decode_form(&r.body, gbk)
                    .into_iter()
                    .map(|(k, v)| {
                        let v = if SECRET_FIELDS.contains(&k.as_str()) {
                            REDACTED.to_owned()
                        } else {
                            match &code {
                                Some(code) => v.replace(code.as_str(), &"*".repeat(code.len())),
                                None => v,
                            }
                        };
                        json!([k, v])
                    })
                    .collect::<Vec<_>>();
                json!({
                    "method": r.method,
                    "url": format!("{origin}{}", r.target),
                    "content_type": r.content_type,
                    "form": form,
                })
            })
            .collect();
        json!({"provider": name, "requests": requests})
    }

    /// The provider's client, pointed at the capture (same path as its real URL).
    fn client_for(
        &self,
        settings: &ProviderSettings,
        base: &str,
        international: Option<String>,
    ) -> Result<Arc<dyn MessageSender>, sms::Error> {
        let here = |url: &str| format!("{}{}", self.origin, split_origin(url).1);
        Ok(match settings {
            ProviderSettings::Ihuyi(c) => {
                let mut c = c.clone().base_url(here(base));
                if let Some(intl) = &international {
                    c = c.international_base_url(here(intl));
                }
                Arc::new(sms::ihuyi::IhuyiClient::new(c)?)
            }
            ProviderSettings::IhuyiVoice(c) => Arc::new(sms::ihuyi_voice::IhuyiVoiceClient::new(
                c.clone().base_url(here(base)),
            )?),
            ProviderSettings::Mms10658(c) => {
                Arc::new(sms::mms_10658::MmsClient::new(c.clone().base_url(here(base)))?)
            }
            ProviderSettings::Juxiang(c) => {
                Arc::new(sms::juxiang::JuxiangClient::new(c.clone().base_url(here(base)))?)
            }
            _ => {
                return Err(sms::Error::new(sms::ErrorKind::Unsupported, sms::Operation::Send)
                    .with_message("this vendor has no wire preview"));
            }
        })
    }
}

/// `https://host:port` and the rest (`/path?query`, or empty).
fn split_origin(url: &str) -> (&str, &str) {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => url.split_at(after_scheme + i),
        None => (url, ""),
    }
}

/// Reads one HTTP/1.1 request (headers and a `content-length` body).
async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<Captured> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buffer.len() > MAX_REQUEST {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let target = first.next()?.to_owned();
    let mut length = 0usize;
    let mut content_type = String::new();
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().ok()?,
                "content-type" => content_type = value.trim().to_owned(),
                _ => {}
            }
        }
    }
    if length > MAX_REQUEST {
        return None;
    }
    while buffer.len() < header_end + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let end = buffer.len().min(header_end + length);
    Some(Captured {
        method,
        target,
        content_type,
        body: buffer[header_end..end].to_vec(),
    })
}

/// `a=1&b=%E4%BD%A0` as name/value pairs, percent-decoded and read as GBK (Juxiang) or UTF-8.
fn decode_form(body: &[u8], gbk: bool) -> Vec<(String, String)> {
    let decode = |raw: &str| -> String {
        let bytes = percent_decode(raw);
        if gbk {
            encoding_rs::GBK.decode(&bytes).0.into_owned()
        } else {
            String::from_utf8_lossy(&bytes).into_owned()
        }
    };
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn percent_decode(text: &str) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push((high * 16 + low) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_in_their_charset() {
        let gbk = encoding_rs::GBK.encode("你好").0;
        let encoded: String = gbk.iter().map(|b| format!("%{b:02X}")).collect();
        let body = format!("name=C1&msg={encoded}&x=a+b%2");
        assert_eq!(
            decode_form(body.as_bytes(), true),
            [
                ("name".to_owned(), "C1".to_owned()),
                ("msg".to_owned(), "你好".to_owned()),
                ("x".to_owned(), "a b%2".to_owned())
            ]
        );
        assert_eq!(
            decode_form(b"content=%E4%BD%A0", false),
            [("content".to_owned(), "你".to_owned())]
        );
    }

    #[test]
    fn origins_split_from_paths() {
        assert_eq!(
            split_origin("https://106.ihuyi.com/webservice/sms.php"),
            ("https://106.ihuyi.com", "/webservice/sms.php")
        );
        assert_eq!(split_origin("http://127.0.0.1:9"), ("http://127.0.0.1:9", ""));
    }
}
