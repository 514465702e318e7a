//! Throughput of what MA systems ask most: their JSON form in, the standard XML out (with
//! validation, as the pipeline does), in permits per second.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ecites_domain::testing::typical_permit;
use ecites_domain::{decode, json, validate, xml, Format};

fn json_to_xml(c: &mut Criterion) {
    for blocks in [3usize, 50] {
        let permit = typical_permit(blocks);
        let input = json::write_permit(&permit);
        let decoded = decode(input.as_bytes(), Format::Json).expect("the JSON form reads");
        assert_eq!(decoded.permit, permit, "round trip before benchmarking");

        let mut group = c.benchmark_group(format!(
            "json-to-xml/{blocks}-blocks ({} bytes)",
            input.len()
        ));
        group.throughput(Throughput::Elements(1));
        group.bench_function("decode + validate + write", |b| {
            let mut out = String::with_capacity(16 * 1024);
            b.iter(|| {
                let decoded = decode(black_box(input.as_bytes()), Format::Json).map(|d| d.permit);
                if let Ok(permit) = decoded {
                    let findings = validate(&permit);
                    out.clear();
                    xml::write_permit_into(&permit, &mut out);
                    black_box((findings.len(), out.len()));
                }
            })
        });
        group.finish();
    }
}

criterion_group!(benches, json_to_xml);
criterion_main!(benches);
