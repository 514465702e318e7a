//! Load time, memory and lookups per second of a full-size CITES checklist (`make bench`).
//!
//! The Species+ export cannot be shipped, so this builds one of its size and shape: 16,000
//! accepted names with 22,000 synonyms (about 38,000 names, as the real export), a listing and
//! a distribution each. It then measures, in this process: reading the export's CSV (what
//! `ecites species import` does once), reading the compact form (what a function does at a cold
//! start), the resident memory the loaded checklist adds, and lookups per second of permit names
//! (found, synonyms, and unknown, with authors to normalise away).
//!
//! Run: `cargo run --release -p ecites-domain --example checklist_profile`.

use ecites_domain::checklist::Checklist;
use std::hint::black_box;
use std::time::Instant;

const ACCEPTED: usize = 16_000;
const SYNONYMS_PER_TAXON: usize = 2; // 32,000 synonyms at most; 22,000 are given below

fn genus(i: usize) -> String {
    // Capitalised, letters only: "Gabcd".
    let mut name = String::from("G");
    let mut n = i / 7;
    for _ in 0..5 {
        name.push((b'a' + (n % 26) as u8) as char);
        n /= 26;
    }
    name
}

fn epithet(i: usize, salt: usize) -> String {
    let mut name = String::new();
    let mut n = i * 31 + salt;
    for _ in 0..8 {
        name.push((b'a' + (n % 26) as u8) as char);
        n /= 26;
    }
    name
}

fn export_csv() -> Vec<u8> {
    let mut out = String::from(
        "TaxonId,Kingdom,FullName,AuthorYear,RankName,CurrentListing,SynonymsWithAuthors,All_DistributionISOCodes\n",
    );
    let listings = ["II", "I", "I/II", "III", "II/NC"];
    for i in 0..ACCEPTED {
        let name = format!("{} {}", genus(i), epithet(i, 0));
        let synonyms: Vec<String> = (0..SYNONYMS_PER_TAXON)
            .filter(|s| i % 16 < 11 || *s == 0) // ~22,000 synonyms in all
            .map(|s| {
                format!(
                    "{} {} Author, 19{:02}",
                    genus(i + 1),
                    epithet(i, s + 1),
                    i % 100
                )
            })
            .collect();
        out.push_str(&format!(
            "{},{},{name},\"Linnaeus, 1758\",SPECIES,{},\"{}\",\"KE,TZ,UG,GH,NG,XA\"\n",
            100_000 + i,
            if i % 3 == 0 { "Plantae" } else { "Animalia" },
            listings[i % listings.len()],
            synonyms.join(", ")
        ));
    }
    out.into_bytes()
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let csv = export_csv();
    let started = Instant::now();
    let checklist = Checklist::from_species_csv(&csv, "2026-11-01").expect("the generated export");
    let import = started.elapsed();
    let compact = checklist.to_compact();
    drop(checklist);

    let before = rss_kib();
    let started = Instant::now();
    let checklist = Checklist::from_compact(&compact).expect("the compact form");
    let load = started.elapsed();
    let after = rss_kib();

    let names: Vec<String> = (0..10_000)
        .map(|i| match i % 4 {
            0 => format!("{} {} (Author, 1900)", genus(i), epithet(i, 0)),
            1 => format!("{} {}", genus(i + 1), epithet(i, 1)),
            2 => format!(
                "{}   {}",
                genus(i).to_uppercase(),
                epithet(i, 0).to_uppercase()
            ),
            _ => format!("Nonexistens {}", epithet(i, 9)),
        })
        .collect();
    let rounds = 50;
    let started = Instant::now();
    let mut found = 0usize;
    for _ in 0..rounds {
        for name in &names {
            found += usize::from(black_box(checklist.find(name)).is_some());
        }
    }
    let lookups = (rounds * names.len()) as f64 / started.elapsed().as_secs_f64();

    println!(
        "checklist of {} taxa, {} names (accepted and synonyms)",
        checklist.len(),
        checklist.names()
    );
    println!("| measure | value |");
    println!("|---|---|");
    println!("| export CSV size | {:.1} MB |", csv.len() as f64 / 1e6);
    println!(
        "| compact form size | {:.1} MB |",
        compact.len() as f64 / 1e6
    );
    println!(
        "| import from the CSV | {:.0} ms |",
        import.as_secs_f64() * 1e3
    );
    println!(
        "| load of the compact form (cold start) | {:.0} ms |",
        load.as_secs_f64() * 1e3
    );
    println!(
        "| resident memory the loaded checklist adds | {:.1} MiB |",
        after.saturating_sub(before) as f64 / 1024.0
    );
    println!(
        "| lookups per second (normalised, 3 in 4 found) | {:.0} |",
        lookups
    );
    assert!(found > 0);
}
