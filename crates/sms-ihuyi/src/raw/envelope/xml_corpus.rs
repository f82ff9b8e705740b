//! A differential corpus for the XML reader: thousands of generated bodies (plus explicit edge
//! cases) and the outcome each had when the snapshot was taken. It pins what the reader accepts and
//! produces across upgrades of the XML library: any change in a value or an error reason shows up
//! as a differing line. Regenerate (only for an intended change) with `UPDATE_XML_CORPUS=1`.

use super::parse_envelope;

const SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/raw/envelope/xml_corpus.snap");

/// Generated bodies on top of the explicit ones.
const GENERATED: usize = 6000;

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
}

/// Pieces of element content that keep a body well-formed: text, XML whitespace, every kind of
/// valid reference, CDATA, comments, processing instructions and nested elements.
const CONTENT: &[&str] = &[
    "2",
    "405",
    "4051",
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
    "&#20013;",
    "&#x4E2D;",
    "&#32;",
    "&#x20;",
    "&#9;",
    "&#10;",
    "&#x1F600;",
    "<![CDATA[ c ]]>",
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
];

const NAMES: &[&str] = &[
    "code",
    "msg",
    "smsid",
    "voiceid",
    "num",
    "templateid",
    "s:code",
    "s:msg",
    "other",
    "CODE",
];

fn element_content(rng: &mut Rng) -> String {
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

/// A body shaped like an answer (declaration, root, children), damaged some of the time.
fn structured(rng: &mut Rng) -> String {
    let mut body = String::new();
    body.push_str(rng.pick(&[
        "",
        "",
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>",
        "\u{feff}",
        " \r\n",
        "<!-- h -->",
        "<!DOCTYPE R>",
        "<?xml version=\"1.0\"?>\n",
    ]));
    let root = rng.pick(&["R", "SubmitResult", "s:SubmitResult", "GetNumResult"]);
    let namespace = rng.pick(&[
        "",
        " xmlns=\"http://106.ihuyi.com/\"",
        " xmlns:s=\"urn:s\"",
        " a='1'",
    ]);
    body.push_str(&format!("<{root}{namespace}>"));
    if rng.below(4) != 0 {
        body.push_str(&format!(
            "<code>{}</code>",
            rng.pick(&["2", " 2 ", "405", "&#50;", "<![CDATA[2]]>"])
        ));
    }
    for _ in 0..rng.below(5) {
        if rng.below(5) == 0 {
            body.push_str(rng.pick(&[" ", "\n  ", "x", "&amp;", "<!-- c -->", "<![CDATA[ d ]]>"]));
        }
        let name = rng.pick(NAMES);
        match rng.below(6) {
            0 => body.push_str(&format!("<{name}/>")),
            1 => body.push_str(&format!(
                "<{name}>{}<i>{}</i>{}</{name}>",
                element_content(rng),
                element_content(rng),
                element_content(rng)
            )),
            _ => body.push_str(&format!("<{name}>{}</{name}>", element_content(rng))),
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
        "&amp;",
        "<?p?>",
        "<![CDATA[x]]>",
        "</R>",
    ]));
    if rng.below(4) == 0 {
        let mut at = rng.below(body.len() + 1);
        while !body.is_char_boundary(at) {
            at -= 1;
        }
        body.truncate(at);
    }
    body
}

/// Fragments glued at random, to reach the reader's error paths.
fn soup(rng: &mut Rng) -> String {
    let pieces = [
        "<",
        ">",
        "</",
        "/>",
        "code",
        "msg",
        "smsid",
        "R",
        "2",
        " ",
        "\n",
        "&amp;",
        "&#x4E2D;",
        "&bogus;",
        "&",
        ";",
        "<![CDATA[",
        "]]>",
        "<!--",
        "-->",
        "<?",
        "?>",
        "xmlns:a=\"x\"",
        "a:",
        "=",
        "\"",
        "<code>",
        "</code>",
        "<R>",
        "</R>",
        "<msg>",
        "</msg>",
    ];
    let mut body = String::from("<");
    for _ in 0..rng.below(30) {
        body.push_str(rng.pick(&pieces));
    }
    body
}

const EXPLICIT: &[&str] = &[
    "<R><code>2</code><msg>a &amp; b</msg></R>",
    "<R><code>2</code><msg>a &amp;b</msg></R>",
    "<R><code>2</code><msg> &amp; </msg></R>",
    "<R><code>2</code><msg>&#32;x&#32;</msg></R>",
    "<R><code>2</code><msg>&#20013;&#x4E2D;&#X4e2d;</msg></R>",
    "<R><code>2</code><msg>&#0;</msg></R>",
    "<R><code>2</code><msg>&#xD800;</msg></R>",
    "<R><code>2</code><msg>&#x110000;</msg></R>",
    "<R><code>2</code><msg>&nbsp;</msg></R>",
    "<R><code>2</code><msg>&bogus;</msg></R>",
    "<R><code>2</code><msg>a & b</msg></R>",
    "<R><code>2</code><msg>a &amp b</msg></R>",
    "<R><code>&#50;</code></R>",
    "<R><code> <![CDATA[ 2 ]]> </code></R>",
    "<R><code>2</code><msg> x <![CDATA[ y ]]> z </msg></R>",
    "<R><code>2</code><msg> x <!-- c --> z </msg></R>",
    "<R><code>2</code><msg> x <b> y </b> z </msg></R>",
    "<R><code>2</code><msg><![CDATA[&amp;]]></msg></R>",
    "<R><code>2</code><msg>\u{a0} a \u{a0}</msg></R>",
    "<R><code>2</code><msg>\t\r\n a \r\n</msg></R>",
    "<s:R xmlns:s=\"urn:s\"><s:code>2</s:code><s:msg>ok</s:msg></s:R>",
    "<R xmlns=\"urn:x\"><code>2</code></R>",
    "<R><code>2</code></R> ",
    "<R><code>2</code></R> x",
    "<R><code>2</code></R>&amp;",
    "<R><code>2</code></R><!-- c -->",
    "<R><code>2</code></R><?p?>",
    "<R><code>2</code></R><![CDATA[x]]>",
    "<R><code>2</code></R><R/>",
    "<R><code>2</code></R></R>",
    "<R><code>2</code>",
    "<R><code>2",
    "<R><code>2</code><msg>a &am",
    "<R><code>2</code><msg>&",
    "<R/>",
    "<R>x<code>2</code></R>",
    "<R>&amp;<code>2</code></R>",
    "<R><![CDATA[x]]><code>2</code></R>",
    "<!DOCTYPE R><R><code>2</code></R>",
    "<!DOCTYPE R [<!ENTITY e \"v\">]><R><code>2</code><msg>&e;</msg></R>",
    "<R><code>2</code><msg>a</msg><msg>b</msg></R>",
    "<R><code a=\"1\">2</code></R>",
    "<R><code>2</code><msg>]]></msg></R>",
    "<R><code>2</code><msg>a > b</msg></R>",
    "<R><code>2</code><msg>'\"</msg></R>",
    "<R><code>2</code></X>",
    "<R><code>2</code></R",
    "<R><code>2</code><smsid/></R>",
    "<R><code>2</code><smsid></smsid></R>",
    "<R ><code >2</code ></R >",
    "<R><code>2</code><\u{4e2d}>v</\u{4e2d}></R>",
    "<R><code>2</code><msg>\u{1F600}&#x1F600;</msg></R>",
    "<?xml version=\"1.0\"?><?xml version=\"1.0\"?><R><code>2</code></R>",
    "<R><code>2</code><msg>&lt;![CDATA[x]]&gt;</msg></R>",
];

fn outcome(body: &str) -> String {
    match parse_envelope(body.as_bytes()) {
        Ok(e) => format!("ok code={:?} msg={:?} fields={:?}", e.code, e.msg, e.fields),
        Err(e) => format!("err {}", e.reason()),
    }
}

fn corpus() -> Vec<String> {
    let mut rng = Rng(0x1_0658_0036);
    let mut bodies: Vec<String> = EXPLICIT.iter().map(|b| (*b).to_owned()).collect();
    for i in 0..GENERATED {
        bodies.push(if i % 5 == 4 {
            soup(&mut rng)
        } else {
            structured(&mut rng)
        });
    }
    bodies
}

#[test]
fn every_body_reads_as_it_did_when_the_snapshot_was_taken() {
    let lines: Vec<String> = corpus()
        .iter()
        .enumerate()
        .map(|(i, body)| format!("{i}\t{body:?}\t{}", outcome(body)))
        .collect();
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
