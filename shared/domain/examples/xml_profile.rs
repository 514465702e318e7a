//! A steady loop over one operation, for profilers that criterion gets in the way of
//! (`valgrind --tool=callgrind`, `perf record`), and for counting instructions on a machine too
//! busy for wall-clock benchmarks.
//!
//! `cargo run --release --example xml_profile -- read|write|tokenize|tokenize-events|dispatch|clone [iterations]`
//! (`tokenize` is the bench's quick-xml baseline; `tokenize-events` the events alone, as the
//! baseline was before 2026-11-30; `dispatch` the reader's walk alone, nothing checked or kept;
//! `clone` a clone of the permit a read returns, and its drop: owning the result alone)

use ecites_domain::testing::{dispatch_only, tokenize_events, tokenize_only, typical_permit};
use ecites_domain::xml::{read_permit, write_permit, write_permit_into};
use std::hint::black_box;

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "read".into());
    let iterations: usize = std::env::args()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let permit = typical_permit(3);
    let xml = write_permit(&permit);
    let mut out = String::with_capacity(xml.len());
    let mut total = 0usize;
    let started = std::time::Instant::now();
    for _ in 0..iterations {
        match mode.as_str() {
            "read" => match read_permit(black_box(xml.as_bytes())) {
                Ok(decoded) => total += decoded.permit.blocks.len(),
                Err(error) => panic!("{error}"),
            },
            "tokenize" => total += tokenize_only(black_box(&xml)),
            "tokenize-events" => total += tokenize_events(black_box(&xml)),
            "dispatch" => total += dispatch_only(black_box(xml.as_bytes())),
            "clone" => total += black_box(black_box(&permit).clone()).blocks.len(),
            _ => {
                out.clear();
                write_permit_into(black_box(&permit), &mut out);
                total += out.len();
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "{mode}: {:.0} permits/s wall clock ({iterations} iterations, checksum {total})",
        iterations as f64 / seconds
    );
}
