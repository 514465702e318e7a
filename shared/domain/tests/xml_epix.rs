//! Reading the EPIX Connect sample (a real v2 service response) and variants of it.

use ecites_domain::codes::{Appendix, Coded, DocumentType, Purpose, Source, Term, Unit};
use ecites_domain::model::{Address, Block, CountryReference, Party, Permit, Quantity, Timestamp};
use ecites_domain::xml::read_permit;
use rust_decimal::Decimal;

const EPIX: &str = include_str!("fixtures/epix/v2-get-non-final-cites-certificate.xml");

fn ts(text: &str) -> Option<Timestamp> {
    Some(Timestamp::parse(text).unwrap())
}

fn party(name: &str, country: &str, country_name: &str) -> Option<Party> {
    Some(Party {
        id: None,
        name: Some(name.into()),
        address: Address {
            street: vec!["Street".into()],
            post_office_box: None,
            postcode: Some("00000".into()),
            city: Some("City".into()),
            subdivision: None,
            country: Some(Coded::parse(country)),
            country_name: Some(country_name.into()),
        },
    })
}

fn reference(
    country: &str,
    name: &str,
    number: Option<&str>,
    date: &str,
) -> Option<CountryReference> {
    Some(CountryReference {
        country: Some(Coded::parse(country)),
        country_name: Some(name.into()),
        permit_number: number.map(Into::into),
        permit_date: ts(date),
    })
}

#[allow(clippy::too_many_arguments)] // One argument per differing box, read like the form.
fn block(
    id: &str,
    scientific: &str,
    common: &str,
    appendix: Appendix,
    source: Source,
    quantity: i64,
    origin: Option<CountryReference>,
    last_reexport: Option<CountryReference>,
) -> Block {
    Block {
        id: id.into(),
        scientific_name: Some(scientific.into()),
        common_name: Some(common.into()),
        description: Some("watchstraps".into()),
        marks: vec!["XXX".into()],
        term: Some(Coded::Known(Term::LPS)),
        appendix: Some(Coded::Known(appendix)),
        source: Some(Coded::Known(source)),
        quantity: Some(Quantity {
            value: Decimal::new(quantity, 0),
            unit: Some(Coded::Known(Unit::PCS)),
        }),
        origin,
        last_reexport,
        ..Block::default()
    }
}

/// The permit the EPIX sample describes, box by box.
fn expected() -> Permit {
    Permit {
        document_type: Some(Coded::Known(DocumentType::R)),
        permit_number: "XA000000".into(),
        copy: Some(false),
        valid_from: ts("2014-01-06T12:03:52+01:00"),
        valid_until: ts("2014-07-05T12:03:52+02:00"),
        issue_date: ts("2014-01-06T12:03:52+01:00"),
        purpose: Some(Coded::Known(Purpose::T)),
        special_conditions: vec![
            "For live animals, this permit is only valid if the transportation requirements\n\
             in accordance to the Guidelines for Transport of Live Animals or, in the case of air transport to\n\
             the IATA Live Animals Regulations"
                .into(),
        ],
        issuing_authority: party("Authority name", "XA", "Neverland"),
        exporter: party("Consignor name", "XA", "Neverland"),
        importer: party("Consignee name", "XB", "Wonderland"),
        blocks: vec![
            block(
                "A",
                "Alligator mississippiensis",
                "American Alligator",
                Appendix::II,
                Source::W,
                5,
                reference("XC", "Pixieland", Some("XC12345"), "2007-07-09T00:00:00+02:00"),
                reference("XA", "Neverland", Some("XA12345"), "2012-02-23T00:00:00+01:00"),
            ),
            block(
                "B",
                "Crocodylus siamensis",
                "Siamese Crocodile",
                Appendix::I,
                Source::D,
                10,
                reference("TH", "Thailand", None, "2007-07-09T00:00:00+02:00"),
                reference("FR", "France", Some("FR1202501030-R"), "2012-02-23T00:00:00+01:00"),
            ),
        ],
        ..Permit::default()
    }
}

fn read(xml: &str) -> Permit {
    let decoded = read_permit(xml.as_bytes()).unwrap();
    assert_eq!(decoded.findings, vec![], "no structure findings expected");
    decoded.permit
}

/// The `CITESEPermit` element of the sample, without the SOAP envelope around it.
fn bare_permit() -> String {
    let start = EPIX.find("<CITESEPermit>").unwrap();
    let end = EPIX.find("</CITESEPermit>").unwrap() + "</CITESEPermit>".len();
    EPIX[start..end].to_owned()
}

#[test]
fn epix_sample_reads_to_the_permit_it_describes_box_by_box() {
    assert_eq!(read(EPIX), expected());
}

#[test]
fn epix_sample_block_b_keeps_the_origin_date_without_a_permit_number() {
    let permit = read(EPIX);
    let origin = permit.blocks[1].origin.as_ref().unwrap();
    assert_eq!(origin.permit_number, None);
    assert_eq!(origin.permit_date, ts("2007-07-09T00:00:00+02:00"));
}

#[test]
fn bare_permit_without_soap_envelope_reads_the_same() {
    let bare = bare_permit().replacen(
        "<CITESEPermit>",
        "<CITESEPermit xmlns:urn=\"urn:un:unece:uncefact:data:standard:CITESEPermit:2\" \
         xmlns:urn1=\"urn:un:unece:uncefact:data:draft:ReusableAggregateBusinessInformationEntity:1\">",
        1,
    );
    assert_eq!(read(&bare), expected());
    let with_declaration = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{bare}");
    assert_eq!(read(&with_declaration), expected());
    let with_bom = format!("\u{feff}{with_declaration}");
    assert_eq!(read(&with_bom), expected());
}

#[test]
fn default_namespace_without_prefixes_reads_the_same() {
    let unprefixed = bare_permit()
        .replace("<urn1:", "<")
        .replace("</urn1:", "</")
        .replace("<urn:", "<")
        .replace("</urn:", "</")
        .replacen(
            "<CITESEPermit>",
            "<CITESEPermit xmlns=\"urn:un:unece:uncefact:data:standard:CITESEPermit:2\">",
            1,
        );
    assert!(!unprefixed.contains("urn1:"));
    assert_eq!(read(&unprefixed), expected());
}

#[test]
fn other_prefixes_read_the_same() {
    let renamed = EPIX
        .replace("<urn1:", "<ram:")
        .replace("</urn1:", "</ram:")
        .replace("<urn:", "<rsm:")
        .replace("</urn:", "</rsm:")
        .replace("xmlns:urn=", "xmlns:rsm=")
        .replace("xmlns:urn1=", "xmlns:ram=")
        .replace("<CITESEPermit>", "<rsm:CITESEPermit>")
        .replace("</CITESEPermit>", "</rsm:CITESEPermit>");
    assert_eq!(read(&renamed), expected());
}

#[test]
fn cdata_sections_are_read_as_text() {
    let with_cdata = EPIX
        .replace(">Consignor name<", "><![CDATA[Consignor name]]><")
        .replace(">XA000000<", ">XA<![CDATA[000]]>000<")
        .replace(">Consignee name<", ">  <![CDATA[Consignee name]]>\n <");
    assert_eq!(read(&with_cdata), expected());

    let special = EPIX.replace(">Consignor name<", "><![CDATA[Tom & Jerry <Ltd>]]><");
    let permit = read(&special);
    assert_eq!(
        permit.exporter.unwrap().name.as_deref(),
        Some("Tom & Jerry <Ltd>")
    );
}

#[test]
fn comments_and_processing_instructions_inside_values_are_ignored() {
    let commented = EPIX
        .replace(">Consignor name<", ">Consignor<!-- a comment --> name<")
        .replace(">XA000000<", "><?pi data?>XA000000<!----><")
        .replace(
            "<urn:HeaderExchangedDocument>",
            "<urn:HeaderExchangedDocument><!-- <urn1:ID>WRONG</urn1:ID> -->",
        );
    assert_eq!(read(&commented), expected());
}

#[test]
fn entity_and_character_references_are_unescaped() {
    let escaped = EPIX.replace(
        ">Consignor name<",
        ">Tom &amp; Jerry &lt;Ltd&gt; &quot;&apos; &#233;&#xE9; &#x1F98E;<",
    );
    let permit = read(&escaped);
    assert_eq!(
        permit.exporter.unwrap().name.as_deref(),
        Some("Tom & Jerry <Ltd> \"' éé 🦎")
    );
}

#[test]
fn windows_line_endings_in_text_become_line_feeds() {
    let crlf = EPIX.replace('\n', "\r\n");
    assert_eq!(read(&crlf), expected());
}
