//! The annual report's own work, without the store: a year of 20,000 typical three-block export
//! permits, each endorsed at export, through the report builder, UNEP-WCMC's checks and the CSV
//! writer, in rows per second (`make bench-report` measures the whole command on the emulator).

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ecites_domain::report::checks::{check_row, CheckContext};
use ecites_domain::report::{
    columns, DocumentState, ReportBasis, ReportBuilder, ReportEntry, ReportRole,
};
use ecites_domain::testing::typical_permit;
use ecites_domain::usage::{PermitFacts, PermitUse, UseBlock, UseKind, UsedPermit};
use ecites_domain::{CountryCode, PermitId, Timestamp};

const PERMITS: usize = 20_000;

fn year() -> (CountryCode, Vec<ReportEntry>) {
    let mut permit = typical_permit(3);
    let issuer: CountryCode = permit
        .exporting_country()
        .expect("the typical permit names its exporter");
    let facts = PermitFacts::of(&permit);
    let mut entries = Vec::with_capacity(2 * PERMITS);
    for index in 0..PERMITS {
        permit.permit_number = format!("26{issuer}{index:07}");
        let id = PermitId {
            issuer,
            number: permit.permit_number.clone(),
        };
        let used = PermitUse {
            kind: UseKind::ExportEndorsement,
            permit: UsedPermit {
                issuer: issuer.to_string(),
                number: id.number.clone(),
                version: None,
            },
            reported_by: issuer.to_string(),
            declaration_number: format!("D-{index}"),
            date: Timestamp::parse("2026-03-01").expect("a date"),
            port: None,
            customs_office: None,
            officer: None,
            blocks: facts
                .blocks
                .iter()
                .filter_map(|block| {
                    Some(UseBlock {
                        block: block.id.clone(),
                        quantity: block.quantity.clone()?,
                        dead_on_arrival: None,
                    })
                })
                .collect(),
            reason: None,
        };
        entries.push(ReportEntry::Permit {
            id: id.clone(),
            version: 1,
            facts: facts.clone(),
            state: DocumentState::Active,
        });
        entries.push(ReportEntry::Use {
            id,
            used: Box::new(used),
            facts: Some(facts.clone()),
            alerts: Vec::new(),
        });
    }
    (issuer, entries)
}

fn report(c: &mut Criterion) {
    let (issuer, entries) = year();
    let context = CheckContext {
        role: ReportRole::Exporter,
        reporter: issuer,
        checklist: None,
    };
    let run = |entries: Vec<ReportEntry>| -> usize {
        let mut writer = csv::Writer::from_writer(std::io::sink());
        let _ = writer.write_record(columns(ReportRole::Exporter));
        let mut builder =
            ReportBuilder::new(issuer, ReportRole::Exporter, 2026, ReportBasis::Actual);
        let mut rows = 0;
        let mut write = |row: &ecites_domain::report::ReportRow| {
            black_box(check_row(row, &context));
            let _ = writer.write_record(row.values(ReportRole::Exporter));
            rows += 1;
        };
        for entry in entries {
            for row in builder.push(entry) {
                write(&row);
            }
        }
        let (last, _) = builder.finish();
        for row in &last {
            write(row);
        }
        rows
    };
    let rows = run(entries.clone());
    let mut group = c.benchmark_group(format!(
        "annual-report/{PERMITS} permits, 3 blocks each, endorsed ({rows} rows)"
    ));
    group.sample_size(10);
    group.throughput(Throughput::Elements(rows as u64));
    group.bench_function("build + check + write CSV", |b| {
        b.iter_batched(
            || entries.clone(),
            |entries| black_box(run(entries)),
            criterion::BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, report);
criterion_main!(benches);
