#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod client;
mod config;
mod package;
mod response;
#[cfg(test)]
mod xml_corpus;
mod xml_text;

pub use client::MmsClient;
pub use config::{DEFAULT_BASE_URL, DEFAULT_BATCH_SIZE, DEFAULT_NAME, MmsConfig};
pub use package::{
    DEFAULT_MAX_TOTAL_BYTES, MediaKind, MmsPackage, MmsPackageBuilder, PackageFile, SMIL_FILE_NAME,
};
