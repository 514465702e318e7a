//! Permits for the demo, the bench and the tests: realistic, valid by default, built in code so
//! they follow the model (the JSON form is the model through serde).

use ecites_domain::codes::{Appendix, Coded, DocumentType, Purpose, Source, Term};
use ecites_domain::model::{Address, Block, Party, Permit, Quantity, Timestamp};
use rust_decimal::Decimal;

/// The EPIX sample (a SOAP-wrapped re-export certificate XA000000 from XA to XB).
pub const EPIX_XML: &[u8] = include_bytes!("../fixtures/epix-re-export-XA-to-XB.xml");

fn party(name: &str, country: &str) -> Party {
    Party {
        name: Some(name.to_owned()),
        address: Address {
            street: vec!["1 Main Street".to_owned()],
            city: Some("Capital".to_owned()),
            country: Some(Coded::parse(country)),
            ..Address::default()
        },
        ..Party::default()
    }
}

fn date(text: &str) -> Option<Timestamp> {
    Timestamp::parse(text).ok()
}

/// A valid permit of `document_type` issued by `issuer`, exporting from `exporter` to
/// `importer`, for `quantity` live tortoises.
pub fn permit(
    document_type: DocumentType,
    number: &str,
    issuer: &str,
    exporter: &str,
    importer: &str,
    quantity: i64,
) -> Permit {
    Permit {
        document_type: Some(document_type.into()),
        permit_number: number.to_owned(),
        valid_from: date("2026-01-05"),
        valid_until: date("2026-06-30"),
        importer: Some(party("Reptile House Ltd", importer)),
        exporter: Some(party("Tortoise Farm Cooperative", exporter)),
        purpose: Some(Purpose::T.into()),
        issuing_authority: Some(party(
            &format!("CITES Management Authority of {issuer}"),
            issuer,
        )),
        issue_date: date("2026-01-05"),
        blocks: vec![Block {
            id: "A".to_owned(),
            scientific_name: Some("Testudo hermanni".to_owned()),
            common_name: Some("Hermann's tortoise".to_owned()),
            description: Some("live specimens".to_owned()),
            term: Some(Term::LIV.into()),
            appendix: Some(Appendix::II.into()),
            source: Some(Source::C.into()),
            quantity: Some(Quantity {
                value: Decimal::from(quantity),
                unit: None,
            }),
            ..Block::default()
        }],
        ..Permit::default()
    }
}

/// An export permit from `issuer` to `importer`.
pub fn export_permit(number: &str, issuer: &str, importer: &str, quantity: i64) -> Permit {
    permit(DocumentType::E, number, issuer, issuer, importer, quantity)
}

/// [`export_permit`], valid today: issued a week ago, valid from then until 150 days from now
/// (inside the six months an export permit may run, Article VI.2 of the Convention), so that a
/// demo run on any day shows a permit in force, not one that expired on the fixture's date.
pub fn export_permit_valid_today(
    number: &str,
    issuer: &str,
    importer: &str,
    quantity: i64,
) -> Permit {
    let today = chrono::Utc::now().date_naive();
    let day = |offset: i64| {
        let date = today + chrono::Duration::days(offset);
        self::date(&date.format("%Y-%m-%d").to_string())
    };
    Permit {
        issue_date: day(-7),
        valid_from: day(-7),
        valid_until: day(150),
        ..export_permit(number, issuer, importer, quantity)
    }
}

/// The JSON form of a permit.
pub fn json(permit: &Permit) -> Vec<u8> {
    serde_json::to_vec_pretty(permit).unwrap_or_default()
}

/// A permit that breaks the rules: no number, no blocks, no parties.
pub fn invalid_json(issuer: &str) -> Vec<u8> {
    invalid_json_numbered(issuer, "26XA-BROKEN")
}

/// A CSV with two permits (one row each) in the ecites CSV form.
pub fn csv_two_permits(issuer: &str, first: &str, second: &str, importer: &str) -> Vec<u8> {
    csv_permits(issuer, importer, &[(first, 12), (second, 7)])
}

/// A CSV in the ecites CSV form with one export permit per `(number, quantity)` row, each from
/// `issuer` to `importer` for that many live tortoises (block A).
pub fn csv_permits(issuer: &str, importer: &str, rows: &[(&str, u32)]) -> Vec<u8> {
    let mut out = "document_type,permit_number,issuer_country,issuing_authority,issue_date,valid_from,valid_until,importer_name,importer_country,exporter_name,exporter_country,purpose,block_id,scientific_name,term,appendix,source,quantity,unit\n".to_owned();
    for (number, quantity) in rows {
        out.push_str(&format!("E,{number},{issuer},CITES Management Authority of {issuer},2026-01-05,2026-01-05,2026-06-30,Reptile House Ltd,{importer},Tortoise Farm Cooperative,{issuer},T,A,Testudo hermanni,LIV,II,C,{quantity},\n"));
    }
    out.into_bytes()
}

/// A permit that breaks the rules, numbered `number` (a file of its own: its rejection is
/// its own, with its own report and event).
pub fn invalid_json_numbered(issuer: &str, number: &str) -> Vec<u8> {
    let permit = Permit {
        document_type: Some(DocumentType::E.into()),
        permit_number: number.to_owned(),
        issuing_authority: Some(party("CITES Management Authority", issuer)),
        ..Permit::default()
    };
    json(&permit)
}

/// A direct ingest message (`{"type": "use", ...}`) carrying a customs use of `issuer`'s
/// permit `number`: `kind` (`export_endorsement`, `import_confirmation`, `border_refusal`),
/// reported by `by`'s customs under `declaration` on `date`, `quantity` specimens of block A.
pub fn use_message(
    kind: &str,
    issuer: &str,
    number: &str,
    by: &str,
    declaration: &str,
    date: &str,
    quantity: i64,
) -> String {
    serde_json::json!({
        "type": "use",
        "version": 1,
        "use": {
            "kind": kind,
            "permit": {"issuer": issuer, "number": number},
            "reported_by": by,
            "declaration_number": declaration,
            "date": date,
            "port": {"id": format!("{by}POR"), "name": format!("Port of {by}")},
            "customs_office": format!("Cargo office of {by}"),
            "officer": "Officer 7",
            "blocks": [{"block": "A", "quantity": {"value": quantity.to_string()}}]
        }
    })
    .to_string()
}
