//! Writing then reading gives back the same permit; the writer is canonical.

use ecites_domain::codes::Coded;
use ecites_domain::model::{Block, Party, Permit};
use ecites_domain::testing::{arb_permit, typical_permit};
use ecites_domain::xml::{read_permit, write_permit, write_permit_into};
use proptest::prelude::*;

const EPIX: &str = include_str!("fixtures/epix/v2-get-non-final-cites-certificate.xml");

fn round_trip(permit: &Permit) -> Permit {
    let xml = write_permit(permit);
    let decoded = read_permit(xml.as_bytes()).unwrap_or_else(|error| panic!("{error}\n{xml}"));
    assert_eq!(decoded.findings, vec![], "{xml}");
    decoded.permit
}

#[test]
fn epix_sample_round_trips_through_the_writer() {
    let permit = read_permit(EPIX.as_bytes()).unwrap().permit;
    assert_eq!(round_trip(&permit), permit);
}

#[test]
fn typical_permits_round_trip() {
    for blocks in [0, 1, 3, 50] {
        let permit = typical_permit(blocks);
        assert_eq!(round_trip(&permit), permit);
    }
}

#[test]
fn empty_permit_round_trips_to_an_empty_permit() {
    let xml = write_permit(&Permit::default());
    assert!(!xml.contains("<rsm:HeaderExchangedDocument"), "{xml}");
    assert_eq!(round_trip(&Permit::default()), Permit::default());
}

#[test]
fn typical_three_block_permit_writes_about_eight_kilobytes() {
    let xml = write_permit(&typical_permit(3));
    assert!((6_000..10_000).contains(&xml.len()), "{} bytes", xml.len());
}

#[test]
fn writing_the_same_permit_twice_gives_the_same_bytes() {
    let permit = typical_permit(3);
    let first = write_permit(&permit);
    let mut second = String::from("prefix");
    write_permit_into(&permit, &mut second);
    assert_eq!(&second["prefix".len()..], first);
    assert_eq!(write_permit(&permit.clone()), first);
}

#[test]
fn written_xml_has_declaration_namespaces_indentation_and_final_newline() {
    let xml = write_permit(&typical_permit(1));
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rsm:CITESEPermit xmlns:rsm=\"urn:un:unece:uncefact:data:standard:CITESEPermit:2\" xmlns:ram=\"urn:un:unece:uncefact:data:draft:ReusableAggregateBusinessInformationEntity:1\">\n"));
    assert!(xml.ends_with("</rsm:CITESEPermit>\n"));
    assert!(xml.contains("\n  <rsm:HeaderExchangedDocument>\n    <ram:ID>24FR000123</ram:ID>\n"));
    assert!(xml.contains("<ram:Value>CITES PERMITTING</ram:Value>"));
    assert!(xml.contains("<ram:ID>09A</ram:ID>"));
    assert!(xml.contains("<ram:ItemQuantity unitCode=\"PCS\">40</ram:ItemQuantity>"));
    assert!(xml.contains("<ram:TypeCode listID=\"1001\" listAgencyID=\"6\">861</ram:TypeCode>"));
    assert!(!xml.contains("></ram:"), "no empty elements:\n{xml}");
    for line in xml.lines().skip(1) {
        let indent = line.len() - line.trim_start().len();
        assert_eq!(indent % 2, 0, "{line:?}");
    }
}

#[test]
fn header_elements_are_written_in_schema_order() {
    let xml = write_permit(&typical_permit(1));
    let order = [
        "<ram:ID>24FR000123",
        "<ram:Name>",
        "<ram:TypeCode>E",
        "<ram:IssueDateTime>",
        "<ram:CopyIndicator>",
        "<ram:Purpose>",
        "<ram:PurposeCode>",
        "<ram:Information>",
        "<ram:EffectiveSpecifiedPeriod>",
        "<ram:IssueLogisticsLocation>",
        "<ram:FirstSignatoryDocumentAuthentication>",
        "<ram:ThirdSignatoryDocumentAuthentication>",
        "<rsm:SpecifiedSupplyChainConsignment>",
        "<ram:ConsignorTradeParty>",
        "<ram:ConsigneeTradeParty>",
        "<ram:TransportContractReferencedDocument>",
        "<ram:IncludedSupplyChainConsignmentItem>",
        "<ram:PhysicalLogisticsShippingMarks>",
        "<ram:OriginTradeCountry>",
        "<ram:AssociatedReferencedDocument>",
        "<ram:TransportLogisticsPackage>",
        "<ram:IncludedSupplyChainTradeLineItem>",
        "<ram:ApplicableCrossBorderRegulatoryProcedure>",
    ];
    let mut from = 0;
    for element in order {
        let at = xml[from..]
            .find(element)
            .unwrap_or_else(|| panic!("{element} missing or out of order"));
        from += at;
    }
}

#[test]
fn markup_characters_are_escaped_and_read_back() {
    let name = "Tom & Jerry <\"Ltd\"> 'ré' ]]> \u{1F98E}";
    let permit = Permit {
        exporter: Some(Party {
            name: Some(name.into()),
            ..Party::default()
        }),
        blocks: vec![Block {
            id: "A".into(),
            quantity: Some(ecites_domain::model::Quantity {
                value: 1.into(),
                unit: Some(Coded::parse("K&\"<'")),
            }),
            ..Block::default()
        }],
        ..Permit::default()
    };
    let xml = write_permit(&permit);
    assert!(
        xml.contains("Tom &amp; Jerry &lt;\"Ltd\"&gt; 'ré' ]]&gt; \u{1F98E}"),
        "{xml}"
    );
    assert!(xml.contains("unitCode=\"K&amp;&quot;&lt;&apos;\""), "{xml}");
    assert_eq!(round_trip(&permit), permit);
}

#[test]
fn carriage_returns_survive_as_character_references() {
    let permit = Permit {
        special_conditions: vec!["line one\r\nline two\rthree".into()],
        ..Permit::default()
    };
    let xml = write_permit(&permit);
    assert!(xml.contains("line one&#13;\nline two&#13;three"), "{xml}");
    assert_eq!(round_trip(&permit), permit);
}

#[test]
fn characters_xml_cannot_carry_are_replaced_so_the_output_stays_well_formed() {
    let permit = Permit {
        permit_number: "A\u{0}B\u{1b}C\u{fffe}D".into(),
        ..Permit::default()
    };
    let xml = write_permit(&permit);
    assert!(
        xml.contains("<ram:ID>A\u{fffd}B\u{fffd}C\u{fffd}D</ram:ID>"),
        "{xml}"
    );
    assert_eq!(
        read_permit(xml.as_bytes()).unwrap().permit.permit_number,
        "A\u{fffd}B\u{fffd}C\u{fffd}D"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn generated_permits_round_trip_exactly(permit in arb_permit()) {
        let xml = write_permit(&permit);
        let decoded = read_permit(xml.as_bytes()).map_err(|error| TestCaseError::fail(format!("{error}\n{xml}")))?;
        prop_assert_eq!(decoded.findings, vec![]);
        prop_assert_eq!(&decoded.permit, &permit, "{}", xml);
        prop_assert_eq!(write_permit(&decoded.permit), xml);
    }
}
