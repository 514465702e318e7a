//! Throughput of the CITES e-permit XML writer and reader, in permits per second.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ecites_domain::testing::typical_permit;
use ecites_domain::xml::{read_permit, write_permit_into};

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
            b.iter(|| {
                let mut reader = quick_xml::Reader::from_str(black_box(&xml));
                let mut events = 0usize;
                loop {
                    match reader.read_event() {
                        Ok(quick_xml::events::Event::Eof) | Err(_) => break,
                        Ok(_) => events += 1,
                    }
                }
                events
            })
        });
        group.finish();
    }
}

criterion_group!(benches, xml);
criterion_main!(benches);
