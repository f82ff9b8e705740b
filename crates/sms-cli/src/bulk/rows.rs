//! Reading a bulk CSV file one row at a time, and turning each row into a checked message.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use csv::StringRecord;
use sms::{Message, MessageBody};

use crate::backend::Backend;
use crate::cli::BodyArgs;
use crate::compose;
use crate::exit::Failure;

/// What the header says about each column.
#[derive(Debug)]
struct Columns {
    number: usize,
    text: Option<usize>,
    reference: Option<usize>,
    /// Template variables: (column, name).
    vars: Vec<(usize, String)>,
}

/// One data row, checked and ready to send.
#[derive(Debug)]
pub struct Row {
    /// Its position among the data rows, from 1 (the key of the results file).
    pub index: u64,
    /// The number as written in the file.
    pub number: String,
    /// The message for it.
    pub message: Message,
    /// Billed parts.
    pub parts: usize,
}

/// A row that cannot be sent, and where it is.
#[derive(Debug)]
pub struct BadRow {
    /// The line in the file (from 1; the header is line 1).
    pub line: u64,
    /// Why.
    pub reason: String,
}

/// Streams the rows of a bulk file.
pub struct RowReader<'a> {
    reader: csv::Reader<BufReader<File>>,
    columns: Columns,
    record: StringRecord,
    index: u64,
    backend: &'a Backend,
    body: &'a BodyArgs,
}

const KNOWN: &[&str] = &["number", "text", "reference"];

impl<'a> RowReader<'a> {
    /// Opens the file and reads its header.
    ///
    /// # Errors
    /// An unreadable file (exit 1), a header without `number`, with an unknown column, or without a
    /// text source (exit 2).
    pub fn open(path: &Path, backend: &'a Backend, body: &'a BodyArgs) -> Result<Self, Failure> {
        let file = File::open(path).map_err(|e| Failure::error(format!("{}: {e}", path.display())))?;
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(BufReader::new(file));
        let place = |what: String| Failure::usage(format!("{}:1: {what}", path.display()));
        let header = reader
            .headers()
            .map_err(|e| place(format!("unreadable header: {e}")))?
            .clone();
        let mut columns = Columns {
            number: usize::MAX,
            text: None,
            reference: None,
            vars: Vec::new(),
        };
        for (i, name) in header.iter().enumerate() {
            match name {
                "number" => columns.number = i,
                "text" if body.template.is_none() => columns.text = Some(i),
                "reference" => columns.reference = Some(i),
                other if body.template.is_some() => columns.vars.push((i, other.to_owned())),
                other => {
                    return Err(place(format!(
                        "unknown column {other:?} (allowed: {}; with --template, other columns are \
                         template variables)",
                        KNOWN.join(", ")
                    )));
                }
            }
        }
        if columns.number == usize::MAX {
            return Err(place("no `number` column".to_owned()));
        }
        if body.template.is_none() && columns.text.is_none() && body.text.is_none() {
            return Err(place(
                "no `text` column: add one, or give --text or --template".to_owned(),
            ));
        }
        Ok(Self {
            reader,
            columns,
            record: StringRecord::new(),
            index: 0,
            backend,
            body,
        })
    }

    /// The next row, or `None` at the end of the file.
    pub fn next_row(&mut self) -> Option<Result<Row, BadRow>> {
        let line = self.reader.position().line() + 1;
        match self.reader.read_record(&mut self.record) {
            Ok(false) => None,
            Ok(true) => {
                self.index += 1;
                let line = self.record.position().map_or(line, |p| p.line());
                Some(self.row().map_err(|reason| BadRow { line, reason }))
            }
            Err(error) => {
                self.index += 1;
                let line = error.position().map_or(line, |p| p.line());
                let reason = match error.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => {
                        format!("{len} field(s) where the header has {expected_len}")
                    }
                    _ => format!("malformed row: {error}"),
                };
                Some(Err(BadRow { line, reason }))
            }
        }
    }

    fn row(&self) -> Result<Row, String> {
        let field = |i: usize| self.record.get(i).unwrap_or("");
        let number = field(self.columns.number).to_owned();
        let to = compose::number(&number).map_err(|f| f.message)?;
        let body = if let Some(id) = &self.body.template {
            let vars = self
                .columns
                .vars
                .iter()
                .map(|(i, name)| (name.clone(), field(*i).to_owned()))
                .collect();
            compose::template_body(id, self.body.template_text.as_deref(), vars).map_err(|f| f.message)?
        } else {
            let text = match self.columns.text.map(field) {
                Some(text) if !text.is_empty() => text.to_owned(),
                _ => self.body.text.clone().unwrap_or_default(),
            };
            MessageBody::Text(text)
        };
        let mut message = Message::new(to, body);
        if let Some(reference) = self.columns.reference.map(field).filter(|r| !r.is_empty()) {
            message = message.with_reference(reference);
        }
        let message = compose::with_options(message, self.body).map_err(|f| f.message)?;
        let parts = compose::check(self.backend, &message).map_err(|f| f.message)?;
        Ok(Row {
            index: self.index,
            number,
            message,
            parts,
        })
    }
}

impl Iterator for RowReader<'_> {
    type Item = Result<Row, BadRow>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_row()
    }
}
