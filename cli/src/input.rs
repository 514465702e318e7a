//! Reading an input file (or standard input) into decoded, validated permits.

use crate::{InputFormat, ReadArgs};
use ecites_domain::{
    check, decode_all_with, detect_format, validate_listing, Checklist, Decoded, Finding, Format,
};
use std::io::Read;
use std::path::Path;

/// A permit read from an input, with every finding (reading and validation), sorted.
pub struct Checked {
    /// The permit as read.
    pub decoded: Decoded,
}

impl Checked {
    /// True when no finding is an error.
    pub fn is_valid(&self) -> bool {
        ecites_domain::is_valid(&self.decoded.findings)
    }

    /// The permit's identity for messages, or a placeholder when it has none.
    pub fn label(&self) -> String {
        self.decoded
            .permit
            .id()
            .map(|id| id.to_string())
            .unwrap_or_else(|| "(permit without issuer or number)".to_owned())
    }

    /// Every finding, reading first then validation.
    pub fn findings(&self) -> &[Finding] {
        &self.decoded.findings
    }
}

/// How inputs are read and checked: the reading flags, and the CITES checklist of
/// `--species FILE` for the listing tier (docs/species.md), when given.
pub struct Reader {
    /// The format and CSV flags.
    pub args: ReadArgs,
    /// The checklist, loaded once for every input.
    pub checklist: Option<Checklist>,
}

impl Reader {
    /// Loads the `--species` checklist, if any; an unusable one is reported on stderr and is
    /// exit status 2 (an input that cannot be read).
    pub fn new(args: ReadArgs) -> Result<Reader, u8> {
        let checklist = match &args.species {
            None => None,
            Some(path) => match crate::species::load(path, None) {
                Ok(checklist) => Some(checklist),
                Err(error) => {
                    eprintln!("ecites: {error:#}");
                    return Err(crate::EXIT_UNREADABLE);
                }
            },
        };
        Ok(Reader { args, checklist })
    }
}

/// Reads a file (`-` is standard input), detects or applies the format, decodes and validates.
/// The error is a message for people: why the input could not be read at all.
pub fn read_and_check(path: &Path, from: &Reader) -> Result<Vec<Checked>, String> {
    let (bytes, name) = if path.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|error| format!("cannot read standard input: {error}"))?;
        (bytes, None)
    } else {
        let bytes =
            std::fs::read(path).map_err(|error| format!("cannot read the file: {error}"))?;
        (
            bytes,
            path.file_name()
                .and_then(|name| name.to_str())
                .map(str::to_owned),
        )
    };
    check_bytes(&bytes, name.as_deref(), from)
}

/// Decodes and validates bytes already in memory.
pub fn check_bytes(
    bytes: &[u8],
    name: Option<&str>,
    reader: &Reader,
) -> Result<Vec<Checked>, String> {
    let from = &reader.args;
    let format = match from.from {
        InputFormat::Auto => detect_format(bytes, name).map_err(|error| error.to_string())?,
        InputFormat::Xml => Format::Xml,
        InputFormat::Json => Format::Json,
        InputFormat::Csv => Format::Csv,
    };
    let decoded =
        decode_all_with(bytes, format, &from.csv_options()).map_err(|error| error.to_string())?;
    Ok(decoded
        .into_iter()
        .map(|mut decoded| {
            decoded.findings = check(&decoded);
            if let Some(checklist) = &reader.checklist {
                decoded
                    .findings
                    .extend(validate_listing(&decoded.permit, checklist));
            }
            Checked { decoded }
        })
        .collect())
}
