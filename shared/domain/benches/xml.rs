//! Throughput of the CITES e-permit XML writer and reader, in permits per second.

use criterion::{black_box, criterion_group, Criterion, Throughput};
use ecites_domain::testing::typical_permit;
use ecites_domain::xml::{read_permit, write_permit_into};
use std::time::Instant;

/// quick-xml's tokenizer alone over `xml`, doing nothing with the events: the number of events.
fn tokenize(xml: &str) -> usize {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut events = 0usize;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) | Err(_) => break,
            Ok(_) => events += 1,
        }
    }
    events
}

fn xml(c: &mut Criterion) {
    for blocks in [3usize, 50] {
        let permit = typical_permit(blocks);
        let mut xml = String::new();
        write_permit_into(&permit, &mut xml);
        // Measure a read that really reads: the permit must come back whole.
        let decoded = read_permit(xml.as_bytes()).expect("the writer's output reads");
        assert_eq!(decoded.permit, permit, "round trip before benchmarking");

        let mut group = c.benchmark_group(format!("xml/{blocks}-blocks ({} bytes)", xml.len()));
        group.throughput(Throughput::Elements(1));
        group.bench_function("write", |b| {
            let mut out = String::with_capacity(xml.len());
            b.iter(|| {
                out.clear();
                write_permit_into(black_box(&permit), &mut out);
                black_box(out.len())
            })
        });
        group.bench_function("read", |b| {
            b.iter(|| {
                read_permit(black_box(xml.as_bytes())).map(|decoded| decoded.permit.blocks.len())
            })
        });
        // The floor: quick-xml's tokenizer alone over the same bytes, doing nothing with events.
        group.bench_function("tokenize only (quick-xml baseline)", |b| {
            b.iter(|| tokenize(black_box(&xml)))
        });
        group.finish();
    }
}

/// Reading against tokenizing, for the goal (the reader at least 90 % of quick-xml's tokenizer
/// rate on the typical 3-block permit): both timed in alternation, 9 rounds of 2,000 permits
/// each, and the median of the per-round ratios printed next to the goal. Alternating rounds
/// keep the ratio fair when other work on the machine slows one stretch of the run.
fn read_against_tokenize() {
    let permit = typical_permit(3);
    let mut xml = String::new();
    write_permit_into(&permit, &mut xml);
    let rounds = 9;
    let per_round = 2_000u32;
    let time = |work: &dyn Fn()| {
        let started = Instant::now();
        for _ in 0..per_round {
            work();
        }
        f64::from(per_round) / started.elapsed().as_secs_f64()
    };
    let read = || {
        let blocks =
            read_permit(black_box(xml.as_bytes())).map(|decoded| decoded.permit.blocks.len());
        black_box(blocks.ok());
    };
    let tokenize = || {
        black_box(tokenize(black_box(&xml)));
    };
    let mut ratios = Vec::new();
    let (mut reads, mut tokens) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let read_rate = time(&read);
        let token_rate = time(&tokenize);
        reads.push(read_rate);
        tokens.push(token_rate);
        ratios.push(read_rate / token_rate);
    }
    let median = |values: &mut Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let ratio = median(&mut ratios);
    println!(
        "xml/3-blocks: read {:.0} permits/s, quick-xml tokenizing alone {:.0}/s: read at {:.0} % of the tokenizer (median of {rounds} alternating rounds); goal >= 90 %: {}",
        median(&mut reads),
        median(&mut tokens),
        ratio * 100.0,
        if ratio >= 0.9 { "met" } else { "MISSED" }
    );
}

criterion_group!(benches, xml);

fn main() {
    benches();
    read_against_tokenize();
    Criterion::default().configure_from_args().final_summary();
}
