//! `ecites convert`: one permit to standard output, or a whole folder (historic backfills).

use crate::input::{check_bytes, read_and_check, Checked, Reader};
use crate::{OutputFormat, EXIT_INVALID, EXIT_OK, EXIT_UNREADABLE};
use ecites_domain::{json, xml, Permit};
use indicatif::{ProgressBar, ProgressStyle};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

fn render(permit: &Permit, to: OutputFormat) -> String {
    match to {
        OutputFormat::Xml => xml::write_permit(permit),
        OutputFormat::Json => {
            let mut text = json::write_permit(permit);
            text.push('\n');
            text
        }
    }
}

/// Converts one input to standard output; findings go to standard error.
pub fn single(input: &Path, from: &Reader, to: OutputFormat) -> u8 {
    let source = input.display().to_string();
    let permits = match read_and_check(input, from) {
        Ok(permits) => permits,
        Err(reason) => {
            eprintln!("{source}: cannot be read: {reason}");
            return EXIT_UNREADABLE;
        }
    };
    let stderr = std::io::stderr();
    let mut err = stderr.lock();
    let mut invalid = false;
    for checked in &permits {
        if !checked.findings().is_empty() {
            let _ = crate::report::human(&mut err, &source, checked);
        }
        invalid |= !checked.is_valid();
    }
    if invalid {
        let _ = writeln!(err, "{source}: not converted: the permit is invalid");
        return EXIT_INVALID;
    }
    let output = match (to, permits.as_slice()) {
        (_, [one]) => render(&one.decoded.permit, to),
        (OutputFormat::Json, many) => {
            let all: Vec<&Permit> = many.iter().map(|checked| &checked.decoded.permit).collect();
            let mut text = serde_json::to_string_pretty(&all).unwrap_or_default();
            text.push('\n');
            text
        }
        (OutputFormat::Xml, many) => {
            let _ = writeln!(
                err,
                "{source}: holds {} permits; one XML document holds one permit: use -o OUTDIR to write one file per permit",
                many.len()
            );
            return EXIT_UNREADABLE;
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if out
        .write_all(output.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        return EXIT_UNREADABLE;
    }
    EXIT_OK
}

/// What happened to the inputs of a folder conversion.
#[derive(Default)]
struct Summary {
    files: u64,
    converted: u64,
    unchanged: u64,
    rejected: u64,
    unreadable: u64,
}

/// Converts every file under `input` into `output`, streaming: one file in memory at a time,
/// so memory stays flat however many permits the folder holds.
pub fn folder(input: &Path, output: &Path, from: &Reader, to: OutputFormat) -> u8 {
    if !input.is_dir() {
        eprintln!(
            "{}: -o converts a folder; give a folder to convert",
            input.display()
        );
        return EXIT_UNREADABLE;
    }
    if let Err(error) = fs::create_dir_all(output) {
        eprintln!(
            "{}: cannot create the output folder: {error}",
            output.display()
        );
        return EXIT_UNREADABLE;
    }
    let rejections_path = output.join("rejected.jsonl");
    let mut rejections = match fs::File::create(&rejections_path) {
        Ok(file) => std::io::BufWriter::new(file),
        Err(error) => {
            eprintln!("{}: cannot write: {error}", rejections_path.display());
            return EXIT_UNREADABLE;
        }
    };
    let total = walk(input, output, &mut |_| {});
    let progress = ProgressBar::new(total);
    progress.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} files {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut summary = Summary::default();
    walk(input, output, &mut |path| {
        summary.files += 1;
        progress.inc(1);
        let source = path
            .strip_prefix(input)
            .unwrap_or(path)
            .display()
            .to_string();
        let mut reject = |summary: &mut Summary,
                          permit: Option<String>,
                          reasons: Vec<String>,
                          unreadable: bool| {
            if unreadable {
                summary.unreadable += 1;
            } else {
                summary.rejected += 1;
            }
            let line = serde_json::json!({"file": source, "permit": permit, "reasons": reasons});
            let _ = writeln!(rejections, "{line}");
            progress.suspend(|| eprintln!("{source}: rejected: {}", reasons.join("; ")));
        };
        let checked = match fs::read(path)
            .map_err(|error| format!("cannot read the file: {error}"))
            .and_then(|bytes| {
                let name = path.file_name().and_then(|name| name.to_str());
                check_bytes(&bytes, name, from)
            }) {
            Ok(checked) => checked,
            Err(reason) => return reject(&mut summary, None, vec![reason], true),
        };
        for permit in checked {
            match write_one(&permit, output, to) {
                Ok(Written::New) => summary.converted += 1,
                Ok(Written::Unchanged) => summary.unchanged += 1,
                Err(reasons) => reject(&mut summary, Some(permit.label()), reasons, false),
            }
        }
    });
    progress.finish_and_clear();
    let _ = rejections.flush();
    eprintln!(
        "{} files: {} permits converted, {} already converted (unchanged), {} rejected, {} unreadable; reasons in {}",
        summary.files,
        summary.converted,
        summary.unchanged,
        summary.rejected,
        summary.unreadable,
        rejections_path.display()
    );
    if summary.unreadable > 0 {
        EXIT_UNREADABLE
    } else if summary.rejected > 0 {
        EXIT_INVALID
    } else {
        EXIT_OK
    }
}

enum Written {
    New,
    Unchanged,
}

/// Writes a valid permit to `<output>/<issuer>/<escaped number>.<ext>` (see [`file_name`]); an
/// invalid permit, or a different permit already written under the same identity, is refused
/// with the reasons.
fn write_one(checked: &Checked, output: &Path, to: OutputFormat) -> Result<Written, Vec<String>> {
    if !checked.is_valid() {
        return Err(checked
            .findings()
            .iter()
            .filter(|finding| finding.is_error())
            .map(ToString::to_string)
            .collect());
    }
    let Some(id) = checked.decoded.permit.id() else {
        return Err(vec![
            "the permit has no issuing country or number".to_owned()
        ]);
    };
    let extension = match to {
        OutputFormat::Xml => "xml",
        OutputFormat::Json => "json",
    };
    let directory = output.join(id.issuer.to_string());
    let target = directory.join(file_name(&id.number, extension).map_err(|reason| vec![reason])?);
    let content = render(&checked.decoded.permit, to);
    match fs::read(&target) {
        Ok(existing) if existing == content.as_bytes() => return Ok(Written::Unchanged),
        Ok(_) => {
            return Err(vec![format!(
                "a different permit {id} was already written to {} (the same permit number in two files with different content)",
                target.display()
            )])
        }
        Err(_) => {}
    }
    fs::create_dir_all(&directory)
        .and_then(|()| fs::write(&target, content))
        .map_err(|error| vec![format!("cannot write {}: {error}", target.display())])?;
    Ok(Written::New)
}

/// The longest file name the common file systems take (ext4, APFS, NTFS: 255 bytes).
const MAX_FILE_NAME_BYTES: usize = 255;

/// The file name of a permit number: the pipeline's own S3 key escaping
/// ([`ecites_exchange::keys::escape_component`]: ASCII letters, digits, `-` and `_` as they are,
/// every other byte of the UTF-8 as `%XX`), so the name is reversible (percent-decoding gives
/// the number back), distinct for distinct numbers (`26/XA/0001` is `26%2FXA%2F0001`,
/// `26_XA_0001` stays), and never a path: `/`, `\`, `.` (so no `..` and no hidden file), NUL
/// and `%` itself are all escaped. A name longer than file systems allow is refused.
fn file_name(number: &str, extension: &str) -> Result<String, String> {
    let name = format!(
        "{}.{extension}",
        ecites_exchange::keys::escape_component(number)
    );
    if name.len() > MAX_FILE_NAME_BYTES {
        return Err(format!(
            "the permit number {number:?} escapes to a file name of {} bytes, more than the {MAX_FILE_NAME_BYTES} file systems allow",
            name.len()
        ));
    }
    Ok(name)
}

/// Calls `visit` for every regular file under `root`, skipping the output folder (which may sit
/// inside the input) and hidden files; returns the count. Streams directory entries without
/// collecting them, so a folder of a million files costs no more memory than one of a hundred.
fn walk(root: &Path, skip: &Path, visit: &mut dyn FnMut(&Path)) -> u64 {
    let skip = skip.canonicalize().unwrap_or_else(|_| skip.to_path_buf());
    let mut count = 0;
    let mut pending: Vec<PathBuf> = vec![root.to_path_buf()];
    while let Some(directory) = pending.pop() {
        let entries = match fs::read_dir(&directory) {
            Ok(entries) => entries,
            Err(error) => {
                eprintln!("{}: cannot read the folder: {error}", directory.display());
                continue;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if path.canonicalize().map_or(true, |real| real != skip) {
                    pending.push(path);
                }
            } else if kind.is_file() {
                count += 1;
                visit(&path);
            }
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(name: &str) -> String {
        let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
        let bytes: Vec<u8> = {
            let mut out = Vec::new();
            let mut rest = stem.as_bytes();
            while let Some((&byte, tail)) = rest.split_first() {
                if byte == b'%' {
                    out.push(
                        u8::from_str_radix(std::str::from_utf8(&tail[..2]).unwrap(), 16).unwrap(),
                    );
                    rest = &tail[2..];
                } else {
                    out.push(byte);
                    rest = tail;
                }
            }
            out
        };
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn file_names_are_distinct_reversible_and_never_paths() {
        let numbers = [
            "26/XA/0001",
            "26_XA_0001",
            "26%2FXA%2F0001",
            "..",
            ".",
            ".hidden",
            "../../etc/passwd",
            "/abs",
            "a\\b",
            "nul\0byte",
            "Žluť 1",
            "con",
        ];
        let mut seen = std::collections::HashSet::new();
        for number in numbers {
            let name = file_name(number, "xml").unwrap();
            assert!(seen.insert(name.clone()), "{number} collides");
            assert_eq!(decode(&name), number);
            assert!(!name.contains(['/', '\\', '\0']), "{name}");
            assert!(!name.starts_with('.'), "{name}");
            assert_eq!(Path::new(&name).components().count(), 1, "{name}");
        }
    }

    #[test]
    fn a_number_too_long_for_a_file_name_is_refused_with_a_reason() {
        let long = "\u{1D538}".repeat(30);
        let reason = file_name(&long, "json").unwrap_err();
        assert!(reason.contains("255"), "{reason}");
        assert!(file_name(&"9".repeat(35), "json").is_ok());
    }
}
