//! `ecites validate`.

use crate::input::read_and_check;
use crate::input::Reader;
use crate::{report, ReportFormat, EXIT_INVALID, EXIT_OK, EXIT_UNREADABLE};
use serde_json::json;
use std::path::PathBuf;

/// Validates each file and prints the findings; returns the exit status.
pub fn run(files: &[PathBuf], from: &Reader, format: ReportFormat) -> u8 {
    let mut status = EXIT_OK;
    let mut documents = Vec::new();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for file in files {
        let source = file.display().to_string();
        match read_and_check(file, from) {
            Ok(permits) => {
                if permits.iter().any(|checked| !checked.is_valid()) {
                    status = status.max(EXIT_INVALID);
                }
                match format {
                    ReportFormat::Human => {
                        for checked in &permits {
                            // A closed stdout (e.g. piped to head) is not worth a panic.
                            let _ = report::human(&mut out, &source, checked);
                        }
                    }
                    ReportFormat::Json => documents.push(json!({
                        "file": source,
                        "readable": true,
                        "valid": permits.iter().all(|checked| checked.is_valid()),
                        "permits": permits.iter().map(|checked| json!({
                            "id": checked.decoded.permit.id().map(|id| id.to_string()),
                            "valid": checked.is_valid(),
                            "findings": checked.findings(),
                        })).collect::<Vec<_>>(),
                    })),
                }
            }
            Err(reason) => {
                status = EXIT_UNREADABLE;
                match format {
                    ReportFormat::Human => eprintln!("{source}: cannot be read: {reason}"),
                    ReportFormat::Json => documents.push(json!({
                        "file": source,
                        "readable": false,
                        "valid": false,
                        "error": reason,
                        "permits": [],
                    })),
                }
            }
        }
    }
    if format == ReportFormat::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&documents).unwrap_or_default()
        );
    }
    status
}
