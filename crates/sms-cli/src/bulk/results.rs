//! The results file: one line per row as it goes, and what a resumed run may skip.
//!
//! Before a row's request goes out, a `sending` line is written and flushed; its outcome line
//! follows. A run killed outright therefore leaves `sending` rows behind, and a resumed run treats
//! them as unknown (they may have gone out) instead of sending them again.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::exit::Failure;

/// The header of a results file.
pub const HEADER: [&str; 8] = [
    "row",
    "number",
    "status",
    "provider",
    "message_id",
    "error_code",
    "attempts",
    "error",
];

/// One line of the results file.
#[derive(Debug, Default)]
pub struct ResultLine<'a> {
    /// The row's position among the data rows, from 1.
    pub row: u64,
    /// The number as written in the input.
    pub number: &'a str,
    /// `sending`, `accepted`, `failed` or `unknown`.
    pub status: &'a str,
    /// The provider that took it or failed last.
    pub provider: &'a str,
    /// The provider's message id.
    pub message_id: &'a str,
    /// The provider's error code.
    pub error_code: &'a str,
    /// Requests made for the row.
    pub attempts: usize,
    /// The error, one line.
    pub error: &'a str,
}

/// Appends lines to a results file, flushing each so that the file is complete at any moment.
pub struct ResultsWriter {
    writer: csv::Writer<BufWriter<File>>,
}

impl ResultsWriter {
    /// Creates a new results file with its header.
    ///
    /// # Errors
    /// The file cannot be created (exit 1).
    pub fn create(path: &Path) -> Result<Self, Failure> {
        let file = File::create(path).map_err(|e| Failure::error(format!("{}: {e}", path.display())))?;
        let mut writer = csv::Writer::from_writer(BufWriter::new(file));
        writer
            .write_record(HEADER)
            .map_err(|e| Failure::error(e.to_string()))?;
        writer.flush()?;
        Ok(Self { writer })
    }

    /// Opens an existing results file for appending.
    ///
    /// # Errors
    /// The file cannot be opened (exit 1).
    pub fn append(path: &Path) -> Result<Self, Failure> {
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| Failure::error(format!("{}: {e}", path.display())))?;
        Ok(Self {
            writer: csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(BufWriter::new(file)),
        })
    }

    /// Writes and flushes one line.
    ///
    /// # Errors
    /// A write failure (exit 1): the run must stop, because an unrecorded send could be repeated.
    pub fn write(&mut self, line: &ResultLine<'_>) -> Result<(), Failure> {
        let row = line.row.to_string();
        let attempts = line.attempts.to_string();
        self.writer
            .write_record([
                row.as_str(),
                line.number,
                line.status,
                line.provider,
                line.message_id,
                line.error_code,
                attempts.as_str(),
                line.error,
            ])
            .map_err(|e| Failure::error(format!("cannot write the results file: {e}")))?;
        self.writer
            .flush()
            .map_err(|e| Failure::error(format!("cannot write the results file: {e}")))
    }
}

/// Which CSV a results file belongs to: written beside it (`RESULTS.csv.source.json`) when a run
/// starts, and checked by `--resume`, so that a results file is never applied to another file's rows
/// (row 7 of one file is not row 7 of another).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceStamp {
    /// The CSV's path as given.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// The SHA-256 of its content, hex.
    pub sha256: String,
}

impl SourceStamp {
    /// Reads `csv` once, streaming (memory stays flat whatever its size).
    ///
    /// # Errors
    /// The file cannot be read (exit 1).
    pub fn of(csv: &Path) -> Result<Self, Failure> {
        let fail = |e: std::io::Error| Failure::error(format!("{}: {e}", csv.display()));
        let mut file = File::open(csv).map_err(fail)?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 64 * 1024];
        let mut size = 0u64;
        loop {
            let n = file.read(&mut buffer).map_err(fail)?;
            if n == 0 {
                break;
            }
            size += n as u64;
            hasher.update(&buffer[..n]);
        }
        Ok(Self {
            path: csv.display().to_string(),
            size,
            sha256: hex(&hasher.finalize()),
        })
    }

    /// Where the stamp of `results` is kept.
    pub fn sidecar(results: &Path) -> PathBuf {
        let mut name = results.as_os_str().to_owned();
        name.push(".source.json");
        PathBuf::from(name)
    }

    /// Writes the stamp beside `results`.
    ///
    /// # Errors
    /// The file cannot be written (exit 1): a run that could not be resumed safely does not start.
    pub fn write(&self, results: &Path) -> Result<(), Failure> {
        let path = Self::sidecar(results);
        let doc = serde_json::json!({"csv": self.path, "size": self.size, "sha256": self.sha256});
        std::fs::write(&path, format!("{doc}\n"))
            .map_err(|e| Failure::error(format!("{}: {e}", path.display())))
    }

    /// Checks that `results` was written for the CSV this stamp describes.
    ///
    /// # Errors
    /// Exit 2, naming both files, when the stamp is missing, unreadable or for another file (or the
    /// same file since changed).
    pub fn check(&self, results: &Path) -> Result<(), Failure> {
        let path = Self::sidecar(results);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            Failure::usage(format!(
                "--resume {}: cannot tell which CSV it belongs to ({}: {e}); refusing to resume \
                 (start a new run with --results to keep it)",
                results.display(),
                path.display()
            ))
        })?;
        let doc: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Failure::usage(format!("{}: not a results stamp: {e}", path.display())))?;
        let recorded = (
            doc["size"].as_u64(),
            doc["sha256"].as_str(),
            doc["csv"].as_str().unwrap_or("?"),
        );
        if recorded.0 != Some(self.size) || recorded.1 != Some(self.sha256.as_str()) {
            return Err(Failure::usage(format!(
                "--resume {}: it belongs to {} ({} bytes, sha256 {}), not to {} ({} bytes, sha256 {}): \
                 the file is another one or has changed since, so its rows cannot be matched; nothing \
                 was sent",
                results.display(),
                recorded.2,
                recorded.0.map_or("?".to_owned(), |s| s.to_string()),
                recorded.1.unwrap_or("?"),
                self.path,
                self.size,
                self.sha256
            )));
        }
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A set of row numbers, one bit each, so a million rows cost 125 KB.
#[derive(Debug, Default)]
pub struct RowSet {
    bits: Vec<u64>,
}

impl RowSet {
    /// Adds or removes a row.
    pub fn set(&mut self, row: u64, present: bool) {
        let (word, bit) = ((row / 64) as usize, row % 64);
        if word >= self.bits.len() {
            if !present {
                return;
            }
            self.bits.resize(word + 1, 0);
        }
        if present {
            self.bits[word] |= 1 << bit;
        } else {
            self.bits[word] &= !(1 << bit);
        }
    }

    /// Whether the row is in the set.
    pub fn contains(&self, row: u64) -> bool {
        self.bits
            .get((row / 64) as usize)
            .is_some_and(|w| w & (1 << (row % 64)) != 0)
    }
}

/// What an earlier run left in its results file.
#[derive(Debug, Default)]
pub struct Previous {
    /// Rows not to send again: accepted, unknown, or written as `sending` with no outcome after.
    pub settled: RowSet,
    /// Rows whose last line is `sending`: interrupted in flight, outcome unknown. (row, number)
    pub in_flight: Vec<(u64, String)>,
}

/// Reads a results file for `--resume`.
///
/// # Errors
/// An unreadable file or a line that is not a results line, named by its line (exit 2).
pub fn read_previous(path: &Path) -> Result<Previous, Failure> {
    let file = File::open(path).map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(std::io::BufReader::new(file));
    let mut previous = Previous::default();
    let mut sending = RowSet::default();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(Failure::usage(format!("{}: {e}", path.display()))),
        }
        let line = record.position().map_or(0, |p| p.line());
        let bad = || {
            Failure::usage(format!(
                "{}:{line}: not a results line (expected {})",
                path.display(),
                HEADER.join(",")
            ))
        };
        let row: u64 = record.get(0).and_then(|r| r.parse().ok()).ok_or_else(bad)?;
        match record.get(2).ok_or_else(bad)? {
            "sending" => {
                previous.settled.set(row, true);
                sending.set(row, true);
                previous
                    .in_flight
                    .push((row, record.get(1).unwrap_or("").to_owned()));
            }
            "accepted" | "unknown" => {
                previous.settled.set(row, true);
                sending.set(row, false);
            }
            "failed" => {
                previous.settled.set(row, false);
                sending.set(row, false);
            }
            _ => return Err(bad()),
        }
    }
    previous.in_flight.retain(|(row, _)| sending.contains(*row));
    Ok(previous)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_matches_its_own_file_only() {
        let base = std::env::temp_dir().join(format!("sms-cli-stamp-{}", std::process::id()));
        let csv = base.with_extension("csv");
        let results = base.with_extension("results.csv");
        std::fs::write(&csv, "number,text\n13800138000,hi\n").unwrap();
        let stamp = SourceStamp::of(&csv).unwrap();
        assert_eq!(stamp.size, 27);
        let missing = stamp.check(&results).unwrap_err();
        assert!(
            missing.message.contains("cannot tell which CSV"),
            "{}",
            missing.message
        );
        stamp.write(&results).unwrap();
        stamp.check(&results).unwrap();
        std::fs::write(&csv, "number,text\n13800138000,hi\n13900139000,ho\n").unwrap();
        let changed = SourceStamp::of(&csv).unwrap().check(&results).unwrap_err();
        assert_eq!(changed.exit, crate::exit::Exit::Usage);
        assert!(changed.message.contains("has changed"), "{}", changed.message);
        for path in [csv, results.clone(), SourceStamp::sidecar(&results)] {
            let _ = std::fs::remove_file(path);
        }
    }

    #[test]
    fn row_sets_add_and_remove() {
        let mut set = RowSet::default();
        set.set(1, true);
        set.set(1_000_000, true);
        set.set(5, false);
        assert!(set.contains(1) && set.contains(1_000_000) && !set.contains(2) && !set.contains(5));
        set.set(1, false);
        assert!(!set.contains(1));
    }

    #[test]
    fn the_last_line_of_a_row_decides() {
        let dir = std::env::temp_dir().join(format!("sms-cli-results-{}", std::process::id()));
        std::fs::write(
            &dir,
            "row,number,status,provider,message_id,error_code,attempts,error\n\
             1,138,sending,,,,0,\n1,138,accepted,ihuyi,9,,1,\n\
             2,139,sending,,,,0,\n2,139,failed,ihuyi,,4072,1,x\n\
             3,150,sending,,,,0,\n",
        )
        .unwrap();
        let previous = read_previous(&dir).unwrap();
        std::fs::remove_file(&dir).unwrap();
        assert!(previous.settled.contains(1));
        assert!(!previous.settled.contains(2), "a failed row is sent again");
        assert!(
            previous.settled.contains(3),
            "an in-flight row is never sent again"
        );
        assert_eq!(previous.in_flight, vec![(3, "150".to_owned())]);
    }
}
