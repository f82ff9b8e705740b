//! Answer bodies: ihuyi/MMS XML (with a namespace) or JSON, Juxiang GBK key-value lists, plain
//! text for HTTP-level errors.

use bytes::Bytes;
use hyper::StatusCode;

/// A complete answer before faults touch it.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) content_type: &'static str,
    pub(crate) body: Bytes,
}

impl Reply {
    pub(crate) fn plain(status: StatusCode, text: impl Into<String>) -> Reply {
        let mut text = text.into();
        text.push('\n');
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            body: Bytes::from(text),
        }
    }

    pub(crate) fn json(status: StatusCode, value: &serde_json::Value) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            body: Bytes::from(value.to_string()),
        }
    }
}

/// A field value of an ihuyi-style answer.
#[derive(Debug, Clone)]
pub(crate) enum Field {
    Text(String),
    Number(i64),
}

/// An ihuyi-style answer: a root element, `code`, `msg` and further fields in order.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub(crate) root: &'static str,
    pub(crate) namespace: &'static str,
    pub(crate) code: String,
    pub(crate) msg: String,
    pub(crate) fields: Vec<(&'static str, Field)>,
}

impl Answer {
    pub(crate) fn render(&self, json: bool) -> Reply {
        if json {
            self.render_json()
        } else {
            self.render_xml()
        }
    }

    fn render_xml(&self) -> Reply {
        let mut out = String::with_capacity(160);
        out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<");
        out.push_str(self.root);
        out.push_str(" xmlns=\"");
        out.push_str(self.namespace);
        out.push_str("\"><code>");
        escape_xml(&self.code, &mut out);
        out.push_str("</code><msg>");
        escape_xml(&self.msg, &mut out);
        out.push_str("</msg>");
        for (name, value) in &self.fields {
            out.push('<');
            out.push_str(name);
            out.push('>');
            match value {
                Field::Text(t) => escape_xml(t, &mut out),
                Field::Number(n) => out.push_str(&n.to_string()),
            }
            out.push_str("</");
            out.push_str(name);
            out.push('>');
        }
        out.push_str("</");
        out.push_str(self.root);
        out.push('>');
        Reply {
            status: StatusCode::OK,
            content_type: "text/xml; charset=utf-8",
            body: Bytes::from(out),
        }
    }

    fn render_json(&self) -> Reply {
        let mut out = String::with_capacity(96);
        out.push_str("{\"code\":");
        // ihuyi sends the code as a JSON integer.
        match self.code.parse::<i64>() {
            Ok(n) => out.push_str(&n.to_string()),
            Err(_) => push_json_string(&self.code, &mut out),
        }
        out.push_str(",\"msg\":");
        push_json_string(&self.msg, &mut out);
        for (name, value) in &self.fields {
            out.push_str(",\"");
            out.push_str(name);
            out.push_str("\":");
            match value {
                Field::Text(t) => push_json_string(t, &mut out),
                Field::Number(n) => out.push_str(&n.to_string()),
            }
        }
        out.push('}');
        Reply {
            status: StatusCode::OK,
            content_type: "application/json; charset=utf-8",
            body: Bytes::from(out),
        }
    }
}

fn push_json_string(s: &str, out: &mut String) {
    out.push_str(&serde_json::Value::from(s).to_string());
}

fn escape_xml(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

/// A Juxiang answer: `k=v&k=v` encoded as GBK, values not percent-encoded (as the provider does).
pub(crate) fn juxiang(pairs: &[(&str, String)]) -> Reply {
    let mut text = String::with_capacity(64);
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            text.push('&');
        }
        text.push_str(k);
        text.push('=');
        text.push_str(v);
    }
    let (bytes, _, _) = encoding_rs::GBK.encode(&text);
    Reply {
        status: StatusCode::OK,
        content_type: "text/plain; charset=gb2312",
        body: Bytes::from(bytes.into_owned()),
    }
}
