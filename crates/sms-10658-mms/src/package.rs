//! MMS packages for CreateMms: a SMIL layout and media files, checked, zipped and base64-encoded.

use std::collections::HashSet;
use std::fmt;
use std::io::{Cursor, Write};

use base64::Engine as _;
use quick_xml::Reader;
use quick_xml::events::Event;

use crate::xml_text::doctype_is_balanced;
use sms_core::{Error, ErrorKind, Operation};
use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

/// The default limit on a package's size: 300 KiB, what the gateway accepts for one MMS.
pub const DEFAULT_MAX_TOTAL_BYTES: usize = 300 * 1024;

/// The name the SMIL layout gets inside the archive.
pub const SMIL_FILE_NAME: &str = "mms.smil";

/// Longest file name inside a package.
const MAX_NAME_CHARS: usize = 64;

/// What a file in a package is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MediaKind {
    /// The SMIL layout.
    Smil,
    /// An image: JPEG, GIF, PNG or BMP.
    Image,
    /// Plain text (stored as UTF-8).
    Text,
    /// Audio: AMR, MIDI, MP3 or WAV.
    Audio,
}

impl fmt::Display for MediaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Smil => "SMIL layout",
            Self::Image => "image",
            Self::Text => "text",
            Self::Audio => "audio",
        })
    }
}

/// One file of a built package.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PackageFile {
    /// The name inside the archive (what the SMIL's `src` attributes refer to).
    pub name: String,
    /// What it is.
    pub kind: MediaKind,
    /// Its size in bytes, before compression.
    pub size: usize,
}

/// A checked MMS package, zipped and ready for [`crate::MmsClient::create_mms`].
///
/// ```
/// use sms_10658_mms::MmsPackage;
/// let smil = r#"<smil><body><par dur="5000ms"><text src="hello.txt"/></par></body></smil>"#;
/// let package = MmsPackage::builder().smil(smil).add_text("hello.txt", "你好").build()?;
/// assert_eq!(package.files().len(), 2);
/// assert!(package.zip_bytes().starts_with(b"PK\x03\x04"));
/// # Ok::<(), sms_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct MmsPackage {
    zip: Vec<u8>,
    files: Vec<PackageFile>,
}

impl fmt::Debug for MmsPackage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MmsPackage")
            .field("files", &self.files)
            .field("zip_bytes", &self.zip.len())
            .finish()
    }
}

impl MmsPackage {
    /// Starts a package.
    pub fn builder() -> MmsPackageBuilder {
        MmsPackageBuilder::default()
    }

    /// The zip archive.
    pub fn zip_bytes(&self) -> &[u8] {
        &self.zip
    }

    /// The zip archive, base64-encoded (standard alphabet, padded), as CreateMms takes it.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.zip)
    }

    /// The files, SMIL layout first.
    pub fn files(&self) -> &[PackageFile] {
        &self.files
    }

    /// The total size of the files before compression.
    pub fn total_bytes(&self) -> usize {
        self.files.iter().map(|f| f.size).sum()
    }
}

/// Builds an [`MmsPackage`]; nothing is checked until [`MmsPackageBuilder::build`].
#[derive(Clone)]
pub struct MmsPackageBuilder {
    smil: Option<String>,
    files: Vec<(String, MediaKind, Vec<u8>)>,
    max_total_bytes: usize,
}

impl Default for MmsPackageBuilder {
    fn default() -> Self {
        Self {
            smil: None,
            files: Vec::new(),
            max_total_bytes: DEFAULT_MAX_TOTAL_BYTES,
        }
    }
}

impl fmt::Debug for MmsPackageBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let files: Vec<(&str, MediaKind, usize)> = self
            .files
            .iter()
            .map(|(name, kind, bytes)| (name.as_str(), *kind, bytes.len()))
            .collect();
        f.debug_struct("MmsPackageBuilder")
            .field("smil_bytes", &self.smil.as_ref().map(String::len))
            .field("files", &files)
            .field("max_total_bytes", &self.max_total_bytes)
            .finish()
    }
}

impl MmsPackageBuilder {
    /// Sets the SMIL layout (required). Every `src` it names must be a file of the package.
    #[must_use]
    pub fn smil(mut self, smil: impl Into<String>) -> Self {
        self.smil = Some(smil.into());
        self
    }

    /// Adds an image: `.jpg`/`.jpeg`, `.gif`, `.png` or `.bmp`, whose bytes must match the extension.
    #[must_use]
    pub fn add_image(mut self, name: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        self.files.push((name.into(), MediaKind::Image, bytes.into()));
        self
    }

    /// Adds a text part (`.txt`), stored as UTF-8.
    #[must_use]
    pub fn add_text(mut self, name: impl Into<String>, text: impl Into<String>) -> Self {
        self.files
            .push((name.into(), MediaKind::Text, text.into().into_bytes()));
        self
    }

    /// Adds audio: `.amr`, `.mid`/`.midi`, `.mp3` or `.wav`, whose bytes must match the extension.
    #[must_use]
    pub fn add_audio(mut self, name: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        self.files.push((name.into(), MediaKind::Audio, bytes.into()));
        self
    }

    /// Sets the size limit, checked against the files' total and against the archive
    /// (default [`DEFAULT_MAX_TOTAL_BYTES`]).
    #[must_use]
    pub fn max_total_bytes(mut self, limit: usize) -> Self {
        self.max_total_bytes = limit;
        self
    }

    /// Checks the parts and zips them.
    ///
    /// # Errors
    /// All with [`Operation::CreateMms`], before any request:
    /// [`ErrorKind::InvalidRequest`] without a SMIL layout or without any media file, or for a file
    /// name that is empty, not plain ASCII (letters, digits, `.`, `_`, `-`), without the right
    /// extension or used twice; [`ErrorKind::InvalidContent`] for an empty file, bytes that do not
    /// match the extension, a SMIL layout that is not well-formed SMIL or names a file the package
    /// lacks, or a package over the size limit.
    pub fn build(self) -> Result<MmsPackage, Error> {
        let Some(smil) = self.smil else {
            return Err(invalid(
                ErrorKind::InvalidRequest,
                "an MMS package needs a SMIL layout".to_owned(),
            ));
        };
        if self.files.is_empty() {
            return Err(invalid(
                ErrorKind::InvalidRequest,
                "an MMS package needs at least one image, text or audio file".to_owned(),
            ));
        }
        let mut names = HashSet::new();
        names.insert(SMIL_FILE_NAME.to_ascii_lowercase());
        for (name, kind, bytes) in &self.files {
            check_name(name, *kind)?;
            if !names.insert(name.to_ascii_lowercase()) {
                return Err(invalid(
                    ErrorKind::InvalidRequest,
                    format!("the file name {name:?} is used twice"),
                ));
            }
            check_content(name, *kind, bytes)?;
        }
        check_smil(&smil, &names)?;

        let mut files = vec![PackageFile {
            name: SMIL_FILE_NAME.to_owned(),
            kind: MediaKind::Smil,
            size: smil.len(),
        }];
        files.extend(self.files.iter().map(|(name, kind, bytes)| PackageFile {
            name: name.clone(),
            kind: *kind,
            size: bytes.len(),
        }));
        let total: usize = files.iter().map(|f| f.size).sum();
        if total > self.max_total_bytes {
            return Err(invalid(
                ErrorKind::InvalidContent,
                format!(
                    "the package holds {total} bytes; the limit is {}",
                    self.max_total_bytes
                ),
            ));
        }
        let zip = write_zip(&smil, &self.files)
            .map_err(|e| invalid(ErrorKind::InvalidContent, format!("cannot build the zip: {e}")))?;
        if zip.len() > self.max_total_bytes {
            return Err(invalid(
                ErrorKind::InvalidContent,
                format!(
                    "the zip archive is {} bytes; the limit is {}",
                    zip.len(),
                    self.max_total_bytes
                ),
            ));
        }
        Ok(MmsPackage { zip, files })
    }
}

fn invalid(kind: ErrorKind, message: String) -> Error {
    Error::new(kind, Operation::CreateMms).with_message(message)
}

/// The extensions each kind takes.
fn extensions(kind: MediaKind) -> &'static [&'static str] {
    match kind {
        MediaKind::Smil => &["smil"],
        MediaKind::Image => &["jpg", "jpeg", "gif", "png", "bmp"],
        MediaKind::Text => &["txt"],
        MediaKind::Audio => &["amr", "mid", "midi", "mp3", "wav"],
    }
}

fn extension(name: &str) -> String {
    name.rsplit_once('.')
        .map_or_else(String::new, |(_, ext)| ext.to_ascii_lowercase())
}

fn check_name(name: &str, kind: MediaKind) -> Result<(), Error> {
    let plain = !name.is_empty()
        && name.len() <= MAX_NAME_CHARS
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !plain {
        return Err(invalid(
            ErrorKind::InvalidRequest,
            format!(
                "the file name {name:?} must be 1 to {MAX_NAME_CHARS} ASCII letters, digits, `.`, `_` or \
                 `-`, not starting with `.`"
            ),
        ));
    }
    let allowed = extensions(kind);
    if !allowed.contains(&extension(name).as_str()) {
        return Err(invalid(
            ErrorKind::InvalidRequest,
            format!(
                "{name:?} is added as {kind}, which takes the extensions {}",
                allowed.join(", ")
            ),
        ));
    }
    Ok(())
}

/// Whether the bytes start the way files of this extension do.
fn matches_extension(ext: &str, bytes: &[u8]) -> bool {
    match ext {
        "jpg" | "jpeg" => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
        "gif" => bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a"),
        "png" => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "bmp" => bytes.starts_with(b"BM"),
        "amr" => bytes.starts_with(b"#!AMR"),
        "mid" | "midi" => bytes.starts_with(b"MThd"),
        "mp3" => bytes.starts_with(b"ID3") || matches!(bytes, [0xFF, second, ..] if second & 0xE0 == 0xE0),
        "wav" => bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WAVE"),
        _ => true,
    }
}

fn check_content(name: &str, kind: MediaKind, bytes: &[u8]) -> Result<(), Error> {
    if bytes.is_empty() || (kind == MediaKind::Text && bytes.iter().all(u8::is_ascii_whitespace)) {
        return Err(invalid(ErrorKind::InvalidContent, format!("{name:?} is empty")));
    }
    if !matches_extension(&extension(name), bytes) {
        return Err(invalid(
            ErrorKind::InvalidContent,
            format!("the bytes of {name:?} are not a .{} {kind}", extension(name)),
        ));
    }
    Ok(())
}

/// Checks that the layout is well-formed SMIL and that every `src` names a file of the package
/// (`names` lowercased).
fn check_smil(smil: &str, names: &HashSet<String>) -> Result<(), Error> {
    let malformed = |why: String| invalid(ErrorKind::InvalidContent, format!("the SMIL layout {why}"));
    let mut reader = Reader::from_str(smil);
    // A stray `&` in the text is no concern of a layout check (the text is not read).
    reader.config_mut().allow_dangling_amp = true;
    let mut depth = 0usize;
    let mut root = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| malformed(format!("is not well-formed XML: {e}")))?;
        if let Event::DocType(declaration) = &event
            && !doctype_is_balanced(declaration)
        {
            return Err(malformed(
                "is not well-formed XML: its document type declaration is malformed".to_owned(),
            ));
        }
        let element = match &event {
            Event::Start(e) | Event::Empty(e) => e,
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                continue;
            }
            Event::Text(text) if depth == 0 && text.trim_matches([' ', '\t', '\r', '\n']).is_empty() => {
                continue;
            }
            Event::Text(_) | Event::GeneralRef(_) | Event::CData(_) if depth == 0 => {
                return Err(malformed("has text outside its root element".to_owned()));
            }
            Event::Eof => break,
            _ => continue,
        };
        if depth == 0 {
            if root.is_some() {
                return Err(malformed("has more than one root element".to_owned()));
            }
            root = Some(element.local_name().as_ref().to_ascii_lowercase());
        }
        if matches!(event, Event::Start(_)) {
            depth += 1;
        }
        for attribute in element.attributes() {
            let attribute = attribute.map_err(|e| malformed(format!("has a malformed attribute: {e}")))?;
            if !attribute.key.local_name().as_ref().eq_ignore_ascii_case("src") {
                continue;
            }
            // References resolved, nothing else: a `src` is compared as written.
            let value = quick_xml::escape::unescape(&attribute.value)
                .map_err(|e| malformed(format!("has a malformed attribute: {e}")))?;
            let target = value.trim();
            let target = target.strip_prefix("cid:").unwrap_or(target);
            if !names.contains(&target.to_ascii_lowercase()) {
                return Err(malformed(format!(
                    "refers to {target:?}, which is not in the package"
                )));
            }
        }
    }
    match root.as_deref() {
        Some("smil") if depth == 0 => Ok(()),
        Some("smil") => Err(malformed("is cut off".to_owned())),
        Some(other) => Err(malformed(format!("has the root <{other}> instead of <smil>"))),
        None => Err(malformed("is empty".to_owned())),
    }
}

/// Zips the layout and the files; text is deflated, media (already compressed) stored.
fn write_zip(smil: &str, files: &[(String, MediaKind, Vec<u8>)]) -> Result<Vec<u8>, zip::result::ZipError> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let deflated = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    writer.start_file(SMIL_FILE_NAME, deflated)?;
    writer.write_all(smil.as_bytes())?;
    for (name, kind, bytes) in files {
        let options = if *kind == MediaKind::Text {
            deflated
        } else {
            stored
        };
        writer.start_file(name.as_str(), options)?;
        writer.write_all(bytes)?;
    }
    Ok(writer.finish()?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F', 0, 1, 2, 3];
    const AMR: &[u8] = b"#!AMR\n\x3c\x00\x01\x02";
    const SMIL: &str = r#"<?xml version="1.0"?>
<smil><head><layout><root-layout width="176" height="144"/>
<region id="Image" top="0" left="0" width="176" height="100"/><region id="Text" top="100" left="0" width="176" height="44"/></layout></head>
<body><par dur="5000ms"><img src="a.jpg" region="Image"/><text src="a.txt" region="Text"/><audio src="cid:a.amr"/></par></body></smil>"#;

    fn full() -> MmsPackageBuilder {
        MmsPackage::builder()
            .smil(SMIL)
            .add_image("a.jpg", JPEG)
            .add_text("a.txt", "你好，彩信")
            .add_audio("a.amr", AMR)
    }

    #[test]
    fn the_zip_reads_back_with_every_file_and_the_right_methods() {
        let package = full().build().unwrap();
        let mut archive = zip::ZipArchive::new(Cursor::new(package.zip_bytes().to_vec())).unwrap();
        let names: Vec<String> = archive
            .file_names()
            .map(|name| name.expect("a readable file name").into_owned())
            .collect();
        assert_eq!(names.len(), 4);
        let read = |archive: &mut zip::ZipArchive<Cursor<Vec<u8>>>, name: &str| {
            let mut file = archive.by_name(name).unwrap();
            let method = file.compression();
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes).unwrap();
            (bytes, method)
        };
        assert_eq!(
            read(&mut archive, "mms.smil"),
            (SMIL.as_bytes().to_vec(), CompressionMethod::Deflated)
        );
        assert_eq!(
            read(&mut archive, "a.jpg"),
            (JPEG.to_vec(), CompressionMethod::Stored)
        );
        assert_eq!(
            read(&mut archive, "a.txt"),
            ("你好，彩信".as_bytes().to_vec(), CompressionMethod::Deflated)
        );
        assert_eq!(
            read(&mut archive, "a.amr"),
            (AMR.to_vec(), CompressionMethod::Stored)
        );
        let kinds: Vec<MediaKind> = package.files().iter().map(|f| f.kind).collect();
        assert_eq!(
            kinds,
            [
                MediaKind::Smil,
                MediaKind::Image,
                MediaKind::Text,
                MediaKind::Audio
            ]
        );
        assert_eq!(
            package.total_bytes(),
            SMIL.len() + JPEG.len() + "你好，彩信".len() + AMR.len()
        );
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(package.to_base64())
            .unwrap();
        assert_eq!(decoded, package.zip_bytes());
        // Building twice gives the same bytes (no timestamps from the clock).
        assert_eq!(full().build().unwrap(), package);
        assert!(
            !format!("{package:?}").contains("255"),
            "Debug does not dump bytes"
        );
    }

    #[test]
    fn a_package_without_smil_or_media_is_refused() {
        let e = MmsPackage::builder()
            .add_image("a.jpg", JPEG)
            .build()
            .unwrap_err();
        assert_eq!(
            (e.kind(), e.operation()),
            (ErrorKind::InvalidRequest, Operation::CreateMms)
        );
        assert!(e.message().contains("SMIL"), "{e}");
        let e = MmsPackage::builder().smil("<smil/>").build().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidRequest);
    }

    #[test]
    fn names_and_types_are_checked() {
        let base = || MmsPackage::builder().smil("<smil><body/></smil>");
        let request_errors = [
            base().add_image("a.txt", JPEG),
            base().add_image("photo", JPEG),
            base().add_image("../a.jpg", JPEG),
            base().add_image("图片.jpg", JPEG),
            base().add_image(".jpg", JPEG),
            base().add_text("a.jpg", "text"),
            base().add_audio("a.txt", AMR),
            base().add_image("a.jpg", JPEG).add_image("A.JPG", JPEG),
            base().add_text("MMS.smil", "x"),
        ];
        for builder in request_errors {
            let e = builder.clone().build().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidRequest, "{builder:?}: {e}");
        }
        let content_errors = [
            base().add_image("a.png", JPEG),
            base().add_image("a.jpg", b"GIF89a....".to_vec()),
            base().add_image("a.gif", JPEG),
            base().add_image("a.jpg", Vec::new()),
            base().add_audio("a.amr", b"ID3....".to_vec()),
            base().add_audio("a.wav", b"RIFF\0\0\0\0AVI ".to_vec()),
            base().add_text("a.txt", "  \n"),
        ];
        for builder in content_errors {
            let e = builder.clone().build().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidContent, "{builder:?}: {e}");
        }
        let fine = base()
            .add_image("b.png", b"\x89PNG\r\n\x1a\n....".to_vec())
            .add_image("c.gif", b"GIF87a..".to_vec())
            .add_image("d.BMP", b"BM....".to_vec())
            .add_audio("e.mid", b"MThd....".to_vec())
            .add_audio("f.mp3", vec![0xFF, 0xFB, 0x90, 0x00])
            .add_audio("g.wav", b"RIFF\0\0\0\0WAVEfmt ".to_vec());
        assert_eq!(fine.build().unwrap().files().len(), 7);
    }

    #[test]
    fn the_smil_must_be_well_formed_and_name_only_package_files() {
        let with = |smil: &str| MmsPackage::builder().smil(smil).add_image("a.jpg", JPEG).build();
        with(r#"<smil><body><par><img src="a.jpg"/></par></body></smil>"#).unwrap();
        with(
            r#"<smil xmlns="http://www.w3.org/2001/SMIL20/Language"><body><img src="A.JPG"/></body></smil>"#,
        )
        .unwrap();
        for (smil, hint) in [
            (r#"<smil><body><img src="b.jpg"/></body></smil>"#, "b.jpg"),
            ("<smil><body><par></body></smil>", "well-formed"),
            ("<smil><body><par>", "cut off"),
            ("<html><body/></html>", "<html>"),
            ("", "empty"),
            ("just text", "text outside"),
            ("<smil/><smil/>", "more than one root"),
        ] {
            let e = with(smil).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidContent, "{smil}");
            assert!(e.message().contains(hint), "{smil}: {e}");
        }
    }

    #[test]
    fn the_size_limit_applies_to_the_files_and_to_the_archive() {
        let image: Vec<u8> = [JPEG, &[7u8; 1000]].concat();
        let smil = r#"<smil><body><img src="a.jpg"/></body></smil>"#;
        let total = smil.len() + image.len();
        let builder = || MmsPackage::builder().smil(smil).add_image("a.jpg", image.clone());
        let e = builder().max_total_bytes(total - 1).build().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidContent);
        assert!(e.message().contains(&format!("{total} bytes")), "{e}");
        // The files fit exactly, but zip headers push the archive over the limit.
        let e = builder().max_total_bytes(total).build().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidContent);
        assert!(e.message().contains("zip archive"), "{e}");
        let package = builder().max_total_bytes(total + 400).build().unwrap();
        assert!(package.zip_bytes().len() <= total + 400);
        assert_eq!(DEFAULT_MAX_TOTAL_BYTES, 300 * 1024);
    }
}
