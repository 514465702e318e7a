//! `ecites convert`: one permit to standard output, or a whole folder (historic backfills).

use crate::input::{check_bytes, read_and_check, Checked};
use crate::{OutputFormat, ReadArgs, EXIT_INVALID, EXIT_OK, EXIT_UNREADABLE};
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
pub fn single(input: &Path, from: ReadArgs, to: OutputFormat) -> u8 {
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
pub fn folder(input: &Path, output: &Path, from: ReadArgs, to: OutputFormat) -> u8 {
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

/// Writes a valid permit to `<output>/<issuer>/<number>.<ext>`; an invalid permit, or a
/// different permit already written under the same identity, is refused with the reasons.
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
    let target = directory.join(format!("{}.{extension}", safe_file_name(&id.number)));
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

/// Permit numbers may hold `/` and other characters that cannot be in a file name.
fn safe_file_name(number: &str) -> String {
    number
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
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
