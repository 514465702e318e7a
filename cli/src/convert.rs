//! `ecites convert`: one permit to standard output, or a whole folder (historic backfills).

use crate::input::{check_bytes, read_and_check, Checked, Reader};
use crate::{OutputFormat, EXIT_INVALID, EXIT_OK, EXIT_UNREADABLE};
use ecites_domain::{json, xml, Permit};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use std::collections::HashMap;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

fn render(permit: &Permit, to: OutputFormat) -> String {
    match to {
        OutputFormat::Xml => xml::write_permit(permit),
        OutputFormat::XmlV1 => xml::write_permit_v1(permit),
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
    if to == OutputFormat::XmlV1 {
        for checked in &permits {
            let lost = xml::v1_losses(&checked.decoded.permit);
            if !lost.is_empty() {
                let _ = writeln!(
                    err,
                    "{source}: toolkit v1 has no element for {}: not written",
                    lost.join(", ")
                );
            }
        }
    }
    let output = match (to, permits.as_slice()) {
        (_, [one]) => render(&one.decoded.permit, to),
        (OutputFormat::Json, many) => {
            let all: Vec<&Permit> = many.iter().map(|checked| &checked.decoded.permit).collect();
            let mut text = serde_json::to_string_pretty(&all).unwrap_or_default();
            text.push('\n');
            text
        }
        (OutputFormat::Xml | OutputFormat::XmlV1, many) => {
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
    /// Written as toolkit v1 without values v1 has no element for.
    lossy: u64,
}

/// How many files are read, converted and written in parallel before their results are
/// reported: enough to keep every core busy, few enough that memory stays flat (a batch holds at
/// most this many permits and their output, about 10 KB each for a typical permit).
const BATCH: usize = 256;

/// Converts every file under `input` into `output`, streaming in batches of [`BATCH`] files:
/// each batch is read, converted and written on every core, then reported in the walk's order,
/// so the output, the rejection log and the messages are those of a one-by-one conversion and
/// memory stays flat however many permits the folder holds.
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
    let rejections = match fs::File::create(&rejections_path) {
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
    let mut run = FolderRun {
        input,
        output,
        summary: Summary::default(),
        rejections,
        progress,
        directories: HashMap::new(),
    };
    // A pipeline of two batches: while one is written (one file after the other, as file
    // creations in one folder take the folder's lock anyway), the next is read and converted
    // on the other cores.
    let mut batch: Vec<PathBuf> = Vec::with_capacity(BATCH);
    let mut converted: Option<(Vec<PathBuf>, Converted)> = None;
    let mut step = |run: &mut FolderRun<'_>, paths: Vec<PathBuf>| {
        let previous = converted.take();
        let (prepared, ()) = rayon::join(
            || convert_batch(&paths, from, to),
            || {
                if let Some((paths, prepared)) = previous {
                    run.write(&paths, prepared);
                }
            },
        );
        converted = Some((paths, prepared));
    };
    walk(input, output, &mut |path| {
        batch.push(path.to_path_buf());
        if batch.len() == BATCH {
            step(
                &mut run,
                std::mem::replace(&mut batch, Vec::with_capacity(BATCH)),
            );
        }
    });
    step(&mut run, batch);
    step(&mut run, Vec::new());
    let FolderRun {
        summary,
        mut rejections,
        progress,
        ..
    } = run;
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
    if summary.lossy > 0 {
        eprintln!(
            "{} permits written as toolkit v1 without values it has no element for (each named above)",
            summary.lossy
        );
    }
    if summary.unreadable > 0 {
        EXIT_UNREADABLE
    } else if summary.rejected > 0 {
        EXIT_INVALID
    } else {
        EXIT_OK
    }
}

/// The state of a folder conversion between batches.
struct FolderRun<'a> {
    input: &'a Path,
    output: &'a Path,
    summary: Summary,
    rejections: std::io::BufWriter<fs::File>,
    progress: ProgressBar,
    /// Each issuer's output folder, created once (the error message when it cannot be).
    directories: HashMap<String, Result<(), String>>,
}

/// A batch's files, in order: each file's permits ready to be written, or why it cannot be read.
type Converted = Vec<Result<Vec<Prepared>, String>>;

/// A permit of an input file, ready to be written or refused.
enum Prepared {
    /// Valid: its output folder (the issuer), its file name and its content; for toolkit v1,
    /// the values it has no element for ([`xml::v1_losses`]).
    Write {
        issuer: String,
        name: String,
        content: String,
        label: String,
        lost: Vec<String>,
    },
    Refused {
        label: String,
        reasons: Vec<String>,
    },
}

impl FolderRun<'_> {
    /// Writes a converted batch and reports it, one file after the other in the walk's order,
    /// so every file meets the complete files of the permits before it (as one by one).
    fn write(&mut self, paths: &[PathBuf], prepared: Converted) {
        let input = self.input;
        for (path, read) in paths.iter().zip(prepared) {
            self.summary.files += 1;
            self.progress.inc(1);
            let source = || {
                path.strip_prefix(input)
                    .unwrap_or(path)
                    .display()
                    .to_string()
            };
            let permits = match read {
                Ok(permits) => permits,
                Err(reason) => {
                    let source = source();
                    self.reject(&source, None, &[reason], true);
                    continue;
                }
            };
            for permit in permits {
                if let Prepared::Write { lost, label, .. } = &permit {
                    if !lost.is_empty() {
                        self.summary.lossy += 1;
                        let source = source();
                        self.progress.suspend(|| {
                            eprintln!(
                                "{source}: {label}: toolkit v1 has no element for {}: not written",
                                lost.join(", ")
                            )
                        });
                    }
                }
                match self.finish(permit) {
                    Ok(Written::New) => self.summary.converted += 1,
                    Ok(Written::Unchanged) => self.summary.unchanged += 1,
                    Err((label, reasons)) => {
                        let source = source();
                        self.reject(&source, Some(label), &reasons, false);
                    }
                }
            }
        }
    }

    /// Writes a prepared permit to `<output>/<issuer>/<name>` with one exclusive create (the
    /// issuer's folder is created the first time only); a file already there with the same
    /// content is left as it is, one with a different content (a different permit under the
    /// same identity) refuses the permit: the error is its label and the reasons.
    fn finish(&mut self, permit: Prepared) -> Result<Written, (String, Vec<String>)> {
        let (issuer, name, content, label) = match permit {
            Prepared::Refused { label, reasons } => return Err((label, reasons)),
            Prepared::Write {
                issuer,
                name,
                content,
                label,
                ..
            } => (issuer, name, content, label),
        };
        let directory = self.output.join(&issuer);
        let target = directory.join(name);
        let cannot_write = |error: &dyn std::fmt::Display| {
            vec![format!("cannot write {}: {error}", target.display())]
        };
        let created = self
            .directories
            .entry(issuer)
            .or_insert_with(|| fs::create_dir_all(&directory).map_err(|error| error.to_string()));
        if let Err(error) = created {
            return Err((label, cannot_write(error)));
        }
        let opened = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&target);
        let result = match opened {
            Ok(mut file) => file
                .write_all(content.as_bytes())
                .map(|()| Written::New)
                .map_err(|error| cannot_write(&error)),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                match fs::read(&target) {
                    Ok(existing) if existing == content.as_bytes() => Ok(Written::Unchanged),
                    Ok(_) => Err(vec![format!(
                        "a different permit {label} was already written to {} (the same permit number in two files with different content)",
                        target.display()
                    )]),
                    Err(error) => Err(cannot_write(&error)),
                }
            }
            Err(error) => Err(cannot_write(&error)),
        };
        result.map_err(|reasons| (label, reasons))
    }

    fn reject(
        &mut self,
        source: &str,
        permit: Option<String>,
        reasons: &[String],
        unreadable: bool,
    ) {
        if unreadable {
            self.summary.unreadable += 1;
        } else {
            self.summary.rejected += 1;
        }
        let line = serde_json::json!({"file": source, "permit": permit, "reasons": reasons});
        let _ = writeln!(self.rejections, "{line}");
        self.progress
            .suspend(|| eprintln!("{source}: rejected: {}", reasons.join("; ")));
    }
}

/// Reads and converts a batch of files on every core (one read buffer per worker, reused).
fn convert_batch(paths: &[PathBuf], from: &Reader, to: OutputFormat) -> Converted {
    paths
        .par_iter()
        .map_init(
            || Vec::with_capacity(64 * 1024),
            |buffer, path| prepare(path, buffer, from, to),
        )
        .collect()
}

/// Reads one file into `buffer` (reused: one open, reads to the end, one close; no `stat`),
/// decodes, validates and renders its permits. The error is why the file cannot be read.
fn prepare(
    path: &Path,
    buffer: &mut Vec<u8>,
    from: &Reader,
    to: OutputFormat,
) -> Result<Vec<Prepared>, String> {
    buffer.clear();
    // `File::read_to_end` would ask the file's size first (a `statx` and an `lseek` per file);
    // through `take` it reads straight into the buffer's spare room until the end.
    fs::File::open(path)
        .and_then(|file| file.take(u64::MAX).read_to_end(buffer))
        .map_err(|error| format!("cannot read the file: {error}"))?;
    let name = path.file_name().and_then(|name| name.to_str());
    let checked = check_bytes(buffer, name, from)?;
    // A batch's buffers stay small: a huge file's buffer is not kept for the next one.
    if buffer.capacity() > 1 << 20 {
        *buffer = Vec::new();
    }
    Ok(checked
        .iter()
        .map(|permit| match prepare_one(permit, to) {
            Ok((issuer, name, content)) => Prepared::Write {
                issuer,
                name,
                content,
                label: permit.label(),
                lost: if to == OutputFormat::XmlV1 {
                    xml::v1_losses(&permit.decoded.permit)
                } else {
                    Vec::new()
                },
            },
            Err(reasons) => Prepared::Refused {
                label: permit.label(),
                reasons,
            },
        })
        .collect())
}

enum Written {
    New,
    Unchanged,
}

/// A valid permit's output folder (its issuer), file name `<escaped number>.<ext>` (see
/// [`file_name`]) and content; an invalid permit is refused with the reasons.
fn prepare_one(
    checked: &Checked,
    to: OutputFormat,
) -> Result<(String, String, String), Vec<String>> {
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
        OutputFormat::Xml | OutputFormat::XmlV1 => "xml",
        OutputFormat::Json => "json",
    };
    let name = file_name(&id.number, extension).map_err(|reason| vec![reason])?;
    Ok((
        id.issuer.to_string(),
        name,
        render(&checked.decoded.permit, to),
    ))
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
