//! A differential corpus for the two XML readers (answers and SMIL layouts): thousands of generated
//! documents (plus explicit edge cases) and the outcome each had when the snapshot was taken. It
//! pins what the readers accept and produce across upgrades of the XML library: any change in a
//! value, an error kind or an error message shows up as a differing line. Regenerate (only for an
//! intended change) with `UPDATE_XML_CORPUS=1`.

use crate::package::MmsPackage;
use crate::response::{balance, create, send};

const SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/xml_corpus.snap");

/// Generated answers and layouts on top of the explicit ones.
const GENERATED: usize = 3000;

/// A small deterministic generator (splitmix64), so the corpus is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn truncate_sometimes(&mut self, body: &mut String) {
        if self.below(4) == 0 {
            let mut at = self.below(body.len() + 1);
            while !body.is_char_boundary(at) {
                at -= 1;
            }
            body.truncate(at);
        }
    }
}

/// Pieces of element content that keep a document well-formed: text, XML whitespace, every kind
/// of valid reference, CDATA, comments, processing instructions and nested elements.
const CONTENT: &[&str] = &[
    "2",
    "7",
    "1200.50",
    "-3",
    " ",
    "  ",
    "\t",
    "\r\n",
    "\n",
    "a",
    "ok",
    "中文",
    "\u{a0}",
    "&amp;",
    " &amp; ",
    "&lt;",
    "&gt;",
    "&quot;",
    "&apos;",
    "&#50;",
    "&#x32;",
    "&#20013;",
    "&#x4E2D;",
    "&#32;",
    "&#x20;",
    "&#9;",
    "&#10;",
    "&#x1F600;",
    "<![CDATA[ c ]]>",
    "<![CDATA[2]]>",
    "<![CDATA[&amp;]]>",
    "<![CDATA[]]>",
    "<!-- k -->",
    "<?p x?>",
    "<b>t</b>",
    "<b> &lt; </b>",
    "<b/>",
    ">",
    "'",
    "\"",
];

/// Pieces that make content malformed (or are borderline), used sparingly.
const BAD_CONTENT: &[&str] = &[
    "&#X4e2d;",
    "&#0;",
    "&#xD800;",
    "&#x110000;",
    "&#;",
    "&#x;",
    "&#12a;",
    "&#-1;",
    "&bogus;",
    "&nbsp;",
    "&",
    "&amp",
    "& ",
    "]]>",
    "<",
    "</b>",
    "\u{1}",
];

fn content(rng: &mut Rng) -> String {
    (0..rng.below(6))
        .map(|_| {
            if rng.below(16) == 0 {
                rng.pick(BAD_CONTENT)
            } else {
                rng.pick(CONTENT)
            }
        })
        .collect()
}

fn answer(rng: &mut Rng) -> String {
    let mut body = String::new();
    body.push_str(rng.pick(&[
        "",
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>",
        " \r\n",
        "<!-- h -->",
        "<!DOCTYPE R>",
        "x",
        "&amp;",
    ]));
    let root = rng.pick(&["SendMmsResult", "CreateMmsResult", "GetNumResult", "r:R"]);
    let namespace = rng.pick(&["", " xmlns=\"http://10658.cc/\"", " xmlns:r=\"urn:x\"", " a='1'"]);
    body.push_str(&format!("<{root}{namespace}>"));
    if rng.below(5) != 0 {
        let code = rng.pick(&[
            "2",
            " 2 ",
            "4051",
            "405",
            "&#50;",
            "<![CDATA[2]]>",
            " <![CDATA[2]]> ",
            "2&#32;",
        ]);
        body.push_str(&format!("<code>{code}</code>"));
    }
    for _ in 0..rng.below(5) {
        if rng.below(5) == 0 {
            body.push_str(rng.pick(&[
                " ",
                "\n  ",
                "x",
                "&amp;",
                "&bogus;",
                "<!-- c -->",
                "<![CDATA[ d ]]>",
            ]));
        }
        let name = rng.pick(&[
            "code", "msg", "mmsid", "num", "balance", "r:mmsid", "MSG", "other",
        ]);
        match rng.below(6) {
            0 => body.push_str(&format!("<{name}/>")),
            1 => body.push_str(&format!(
                "<{name}>{}<i>{}</i>{}</{name}>",
                content(rng),
                content(rng),
                content(rng)
            )),
            _ => body.push_str(&format!("<{name}>{}</{name}>", content(rng))),
        }
    }
    body.push_str(&format!("</{root}>"));
    body.push_str(rng.pick(&[
        "",
        "",
        "",
        "\n",
        " tail",
        "<!-- t -->",
        "<x/>",
        "<x></x>",
        "&amp;",
        "<?p?>",
        "<![CDATA[x]]>",
    ]));
    rng.truncate_sometimes(&mut body);
    body
}

fn layout(rng: &mut Rng) -> String {
    let mut smil = String::new();
    smil.push_str(rng.pick(&[
        "",
        "<?xml version=\"1.0\"?>",
        "\n",
        "<!-- h -->",
        "x",
        "<!DOCTYPE smil>",
    ]));
    let root = rng.pick(&["smil", "smil", "SMIL", "s:smil", "html"]);
    let namespace = rng.pick(&[
        "",
        " xmlns=\"http://www.w3.org/2001/SMIL20/Language\"",
        " xmlns:s=\"urn:s\"",
    ]);
    smil.push_str(&format!("<{root}{namespace}><body>"));
    for _ in 0..rng.below(4) {
        let element = rng.pick(&["img", "text", "audio", "par", "s:img"]);
        let mut attributes = String::new();
        for _ in 0..rng.below(3) {
            let key = rng.pick(&["src", "SRC", "s:src", "region", "dur", "src", "src"]);
            let value = rng.pick(&[
                "a.jpg",
                "A.JPG",
                " a.jpg ",
                "cid:a.jpg",
                "t.txt",
                "a&#46;jpg",
                "&#97;.jpg",
                "&#x61;.jpg",
                "a.jpg&#32;",
                "\ta.jpg\n",
                "b.jpg",
                "&amp;",
                "&bogus;",
                "a&.jpg",
                "&lt;",
                "Image",
                "5000ms",
                "a.\tjpg",
                "&#0;",
                "",
            ]);
            let quote = rng.pick(&["\"", "'"]);
            match rng.below(10) {
                0 => attributes.push_str(&format!(" {key}")),
                1 => attributes.push_str(&format!(" {key}={value}")),
                _ => attributes.push_str(&format!(" {key}={quote}{value}{quote}")),
            }
        }
        if rng.below(2) == 0 {
            smil.push_str(&format!("<{element}{attributes}/>"));
        } else {
            smil.push_str(&format!("<{element}{attributes}>{}</{element}>", content(rng)));
        }
    }
    smil.push_str(&format!("</body></{root}>"));
    smil.push_str(rng.pick(&[
        "",
        "",
        "\n",
        " tail",
        "<!-- t -->",
        "<smil/>",
        "&amp;",
        "<![CDATA[x]]>",
        "</smil>",
    ]));
    rng.truncate_sometimes(&mut smil);
    smil
}

const EXPLICIT_ANSWERS: &[&str] = &[
    "<R><code>2</code><mmsid>a &amp; b</mmsid></R>",
    "<R><code>4051</code><msg> a &amp; b </msg></R>",
    "<R><code>4051</code><msg>&#32;x&#32;</msg></R>",
    "<R><code>4051</code><msg>&#20013;&#x4E2D;</msg></R>",
    "<R><code>4051</code><msg>&#X4e2d;</msg></R>",
    "<R><code>4051</code><msg>&#0;</msg></R>",
    "<R><code>4051</code><msg>&bogus;</msg></R>",
    "<R><code>4051</code><msg>a & b</msg></R>",
    "<R><code>&#50;</code><mmsid>1</mmsid></R>",
    "<R><code> <![CDATA[ 2 ]]> </code><mmsid>1</mmsid></R>",
    "<R><code>4051</code><msg> x <![CDATA[ y ]]> z </msg></R>",
    "<R><code>4051</code><msg> x <!-- c --> z </msg></R>",
    "<R><code>4051</code><msg> x <b> y </b> z </msg></R>",
    "<R><code>4051</code><msg>\u{a0} a \u{a0}</msg></R>",
    "<R>&bogus;<code>2</code><mmsid>1</mmsid></R>",
    "<R>x<code>2</code><mmsid>1</mmsid></R>",
    "<R><code>2</code><mmsid>1</mmsid></R> ",
    "<R><code>2</code><mmsid>1</mmsid></R> x",
    "<R><code>2</code><mmsid>1</mmsid></R>&amp;",
    "<R><code>2</code><mmsid>1</mmsid></R><!-- c -->",
    "<R><code>2</code><mmsid>1</mmsid></R><![CDATA[x]]>",
    "<![CDATA[x]]><R><code>2</code><mmsid>1</mmsid></R>",
    "&amp;<R><code>2</code><mmsid>1</mmsid></R>",
    "<R><code>2</code><mmsid>1</mmsid></R><R/>",
    "<R><code>2</code><mmsid>1</mmsid></R></R>",
    "<R><code>2</code><mmsid>1</mmsid>",
    "<R><code>2</code><mmsid>1",
    "<R/>",
    "<R><code>2</code><mmsid>1</mmsid></X>",
    "<R><code>2</code><num>&#49;2&#48;0</num></R>",
    "<GetNumResult><code>2</code><num> 1200.50 </num></GetNumResult>",
    "<r:R xmlns:r=\"urn:x\"><r:code>2</r:code><r:mmsid>7</r:mmsid></r:R>",
    "<R><code>2</code><\u{4e2d}>v</\u{4e2d}><mmsid>1</mmsid></R>",
];

/// Answers that are not UTF-8 in one place or another.
const EXPLICIT_NOT_UTF8: &[&[u8]] = &[
    b"<R><code>2</code><msg>\xff\xfe</msg><mmsid>1</mmsid></R>",
    b"<R><code>4051</code><msg>\xff\xfe</msg></R>",
    b"<R><code>4051</code><msg>a&amp;\xe4\xb8</msg></R>",
    b"<R><!-- \xff --><code>2</code><mmsid>1</mmsid></R>",
    b"<R><code>2</code><mmsid>1</mmsid><?p \xff?></R>",
    b"<R><code>2</code><mmsid>1</mmsid><x a=\"\xff\"/></R>",
    b"<R><code>2</code><mmsid>1</mmsid><\xff>v</\xff></R>",
    b"<R><code>2</code><mmsid>1</mmsid><o>\xff</o></R>",
    b"<R><code>2</code><mmsid>1</mmsid><o><i>\xff</i></o></R>",
    b"<R>\xff<code>2</code><mmsid>1</mmsid></R>",
    b"<R><code>2</code><mmsid><![CDATA[\xff]]></mmsid></R>",
    b"<R><code>4051</code><msg><![CDATA[\xff]]></msg></R>",
    b"<R><code>2</code><mmsid>1</mmsid></R><!-- \xff -->",
    b"<R xmlns:\xff=\"u\"><code>2</code><mmsid>1</mmsid></R>",
    b"\xef\xbb\xbf<R><code>2</code><mmsid>1</mmsid></R>",
    b"\xff\xfe<\0R\0>\0",
];

const EXPLICIT_LAYOUTS: &[&str] = &[
    "<smil><body><img src=\"a.jpg\"/></body></smil>",
    "<smil><body><img src=\"a&#46;jpg\"/></body></smil>",
    "<smil><body><img src=\"&#x61;.jpg\"/></body></smil>",
    "<smil><body><img src=\"a&amp;.jpg\"/></body></smil>",
    "<smil><body><img src=\"&bogus;\"/></body></smil>",
    "<smil><body><img src=\"a.\tjpg\"/></body></smil>",
    "<smil><body><img src=\"\ta.jpg\n\"/></body></smil>",
    "<smil><body><img src=\"a.jpg\" src=\"a.jpg\"/></body></smil>",
    "<smil><body><img src/></body></smil>",
    "<smil><body><img src=a.jpg/></body></smil>",
    "<smil><body>&amp; &#32; text</body></smil>",
    "<smil><body>&bogus;</body></smil>",
    "<smil><body><par></body></smil>",
    "<smil><body><par>",
    "<smil/>",
    "<smil/><smil/>",
    "<smil/>x",
    "<smil/>&amp;",
    "&amp;<smil/>",
    "<![CDATA[x]]><smil/>",
    "<smil/><![CDATA[x]]>",
    "",
    " ",
    "just text",
    "<html><body/></html>",
];

fn answer_outcome(body: &str) -> String {
    answer_bytes_outcome(body.as_bytes())
}

fn answer_bytes_outcome(body: &[u8]) -> String {
    let show = |result: Result<String, sms_core::Error>| match result {
        Ok(value) => format!("ok {value:?}"),
        Err(e) => {
            // A protocol error quotes the body after the reason; the body is already on the line.
            let message = e.message();
            let message = match (e.kind(), message.find(": \"")) {
                (sms_core::ErrorKind::Protocol, Some(at)) => &message[..at],
                _ => message,
            };
            format!("err {:?} {:?} {message:?}", e.kind(), e.code())
        }
    };
    format!(
        "send: {} | create: {} | balance: {}",
        show(send("m", body)),
        show(create("m", body)),
        show(balance("m", body).map(|n| n.to_string()))
    )
}

fn layout_outcome(smil: &str) -> String {
    const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F', 0, 1, 2, 3];
    let built = MmsPackage::builder()
        .smil(smil)
        .add_image("a.jpg", JPEG)
        .add_text("t.txt", "text")
        .build();
    match built {
        Ok(_) => "ok".to_owned(),
        Err(e) => {
            // The XML library's own wording of a syntax error is its business; the reason up to it
            // is ours.
            let message = e.message();
            let message = ["is not well-formed XML:", "has a malformed attribute:"]
                .iter()
                .find_map(|cut| message.find(cut).map(|at| &message[..at + cut.len()]))
                .unwrap_or(message);
            format!("err {:?} {message:?}", e.kind())
        }
    }
}

fn outcomes() -> Vec<String> {
    let mut rng = Rng(0x1_0658_0036);
    let mut lines = Vec::new();
    let mut push = |kind: &str, input: &str, outcome: String| {
        lines.push(format!("{}\t{kind}\t{input:?}\t{outcome}", lines.len()));
    };
    for body in EXPLICIT_ANSWERS {
        push("answer", body, answer_outcome(body));
    }
    for body in EXPLICIT_NOT_UTF8 {
        push(
            "bytes",
            &String::from_utf8_lossy(body),
            answer_bytes_outcome(body),
        );
    }
    for smil in EXPLICIT_LAYOUTS {
        push("layout", smil, layout_outcome(smil));
    }
    for _ in 0..GENERATED {
        let body = answer(&mut rng);
        push("answer", &body, answer_outcome(&body));
        let smil = layout(&mut rng);
        push("layout", &smil, layout_outcome(&smil));
    }
    lines
}

#[test]
fn every_document_reads_as_it_did_when_the_snapshot_was_taken() {
    let lines = outcomes();
    let current = lines.join("\n") + "\n";
    if std::env::var_os("UPDATE_XML_CORPUS").is_some() {
        std::fs::write(SNAPSHOT, current).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(SNAPSHOT).unwrap();
    let differences: Vec<String> = expected
        .lines()
        .zip(current.lines())
        .filter(|(a, b)| a != b)
        .map(|(a, b)| format!("was: {a}\nnow: {b}"))
        .collect();
    assert!(
        differences.is_empty() && expected.lines().count() == current.lines().count(),
        "{} of {} outcomes differ:\n{}",
        differences.len(),
        lines.len(),
        differences[..differences.len().min(20)].join("\n")
    );
}
