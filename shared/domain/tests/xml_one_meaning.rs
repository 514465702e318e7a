//! One meaning per document: XML that could be read two ways is refused,
//! never read "first value wins".

use ecites_domain::testing::arb_permit;
use ecites_domain::xml::{read_permit, write_permit};
use ecites_domain::Error;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

const NS: &str = "xmlns:rsm=\"urn:un:unece:uncefact:data:standard:CITESEPermit:2\" \
                  xmlns:ram=\"urn:un:unece:uncefact:data:draft:ReusableAggregateBusinessInformationEntity:1\"";

fn permit(header: &str, consignment: &str) -> String {
    format!(
        "<rsm:CITESEPermit {NS}><rsm:HeaderExchangedDocument>{header}</rsm:HeaderExchangedDocument>\
         <rsm:SpecifiedSupplyChainConsignment>{consignment}</rsm:SpecifiedSupplyChainConsignment></rsm:CITESEPermit>"
    )
}

fn issuer(contents: &str) -> String {
    format!("<ram:FirstSignatoryDocumentAuthentication>{contents}</ram:FirstSignatoryDocumentAuthentication>")
}

fn refusal(xml: &str) -> String {
    match read_permit(xml.as_bytes()) {
        Ok(decoded) => panic!("read, not refused: {:?}\n{xml}", decoded.permit),
        Err(error) => error.to_string(),
    }
}

#[test]
fn two_header_ids_are_refused_naming_the_element() {
    let error = refusal(&permit("<ram:ID>A1</ram:ID><ram:ID>A2</ram:ID>", ""));
    assert!(
        error.contains("<ID> occurs a second time in /CITESEPermit/HeaderExchangedDocument"),
        "{error}"
    );
}

#[test]
fn two_issuer_countries_or_two_issuing_parties_are_refused() {
    let party = |countries: &str| {
        format!("<ram:ProviderTradeParty><ram:Name>MA</ram:Name><ram:PostalTradeAddress>{countries}</ram:PostalTradeAddress></ram:ProviderTradeParty>")
    };
    let two_countries = permit(
        &issuer(&party(
            "<ram:CountryID>XA</ram:CountryID><ram:CountryID>XB</ram:CountryID>",
        )),
        "",
    );
    assert!(refusal(&two_countries).contains("<CountryID>"));
    let one = party("<ram:CountryID>XA</ram:CountryID>");
    let two_parties = permit(&issuer(&format!("{one}{one}")), "");
    assert!(refusal(&two_parties).contains("<ProviderTradeParty>"));
}

#[test]
fn two_root_permits_or_a_soap_wrapper_with_two_permits_are_refused() {
    let one = permit("<ram:ID>A1</ram:ID>", "");
    let two = permit("<ram:ID>A2</ram:ID>", "");
    assert!(refusal(&format!("{one}{two}")).contains("second root element"));
    let soap = format!(
        "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body>{one}{two}</soap:Body></soap:Envelope>"
    );
    assert!(refusal(&soap).contains("second CITESEPermit"));
}

#[test]
fn content_after_the_root_is_refused_but_comments_pis_and_space_are_not() {
    let one = permit("<ram:ID>A1</ram:ID>", "");
    for trailing in ["<more/>", "trailing text", "<![CDATA[x]]>", "&amp;"] {
        refusal(&format!("{one}{trailing}"));
    }
    let fine = format!("<?xml version=\"1.0\"?>\n<!-- before -->{one}\n<!-- after --><?pi x?>\n  ");
    assert_eq!(
        read_permit(fine.as_bytes()).unwrap().permit.permit_number,
        "A1"
    );
}

#[test]
fn text_before_the_root_cannot_hide_a_second_document() {
    let one = permit("<ram:ID>A1</ram:ID>", "");
    let error = refusal(&format!("garbage{one}"));
    assert!(error.contains("text outside"), "{error}");
    let error = refusal(&format!("<other/>garbage{one}"));
    assert!(error.contains("outside"), "{error}");
    refusal(&format!("<other/>{one}"));
}

#[test]
fn a_root_in_a_foreign_namespace_is_refused_and_none_or_the_permit_namespace_is_read() {
    let foreign = "<p:CITESEPermit xmlns:p=\"urn:example:CITESCertificate:1\"><p:HeaderExchangedDocument><p:ID>X</p:ID></p:HeaderExchangedDocument></p:CITESEPermit>";
    let error = refusal(foreign);
    assert!(error.contains("urn:example:CITESCertificate:1"), "{error}");
    let inherited = "<s:Envelope xmlns:s=\"urn:soap\" xmlns=\"urn:other\"><s:Body><CITESEPermit><HeaderExchangedDocument><ID>X</ID></HeaderExchangedDocument></CITESEPermit></s:Body></s:Envelope>";
    assert!(refusal(inherited).contains("urn:other"));
    for fine in [
        "<CITESEPermit><HeaderExchangedDocument><ID>X</ID></HeaderExchangedDocument></CITESEPermit>",
        "<CITESEPermit xmlns=\"urn:un:unece:uncefact:data:standard:CITESEPermit:2\"><HeaderExchangedDocument><ID>X</ID></HeaderExchangedDocument></CITESEPermit>",
        "<s:Envelope xmlns:s=\"urn:soap\" xmlns=\"urn:other\"><s:Body><CITESEPermit xmlns=\"\"><HeaderExchangedDocument><ID>X</ID></HeaderExchangedDocument></CITESEPermit></s:Body></s:Envelope>",
    ] {
        assert_eq!(read_permit(fine.as_bytes()).unwrap().permit.permit_number, "X", "{fine}");
    }
}

#[test]
fn elements_the_standard_repeats_may_repeat() {
    let xml = permit(
        "<ram:ID>A1</ram:ID><ram:Information>one</ram:Information><ram:Information>two</ram:Information>",
        "<ram:ConsignorTradeParty><ram:PostalTradeAddress><ram:StreetName>1</ram:StreetName><ram:StreetName>2</ram:StreetName></ram:PostalTradeAddress></ram:ConsignorTradeParty>\
         <ram:IncludedSupplyChainConsignmentItem><ram:ID>A</ram:ID><ram:PhysicalLogisticsShippingMarks><ram:Marking>m1</ram:Marking><ram:Marking>m2</ram:Marking></ram:PhysicalLogisticsShippingMarks></ram:IncludedSupplyChainConsignmentItem>\
         <ram:IncludedSupplyChainConsignmentItem><ram:ID>B</ram:ID></ram:IncludedSupplyChainConsignmentItem>",
    );
    let permit = read_permit(xml.as_bytes()).unwrap().permit;
    assert_eq!(permit.special_conditions.len(), 2);
    assert_eq!(permit.blocks.len(), 2);
    assert_eq!(permit.blocks[0].marks.len(), 2);
}

#[test]
fn a_second_date_string_in_one_date_is_refused() {
    let xml = permit(
        "<ram:EffectiveSpecifiedPeriod><ram:StartDateTime><udt:DateTimeString xmlns:udt=\"u\">20261120</udt:DateTimeString><udt:DateTimeString xmlns:udt=\"u\">20261121</udt:DateTimeString></ram:StartDateTime></ram:EffectiveSpecifiedPeriod>",
        "",
    );
    assert!(refusal(&xml).contains("<DateTimeString>"));
}

/// How a valid written permit is made ambiguous.
#[derive(Clone, Debug)]
enum Damage {
    /// Repeat the n-th (modulo) once-only leaf line right after itself.
    RepeatLeaf(usize),
    /// Repeat the header or the consignment.
    RepeatContainer(bool),
    /// A second document after the first.
    SecondRoot,
    /// Something that is not space, a comment or a PI after the root.
    Trailing(&'static str),
    /// Two permits in one SOAP body.
    SoapWithTwo,
    /// Text, then the permit after another document.
    TextBeforeSecond,
}

fn arb_damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        4 => any::<usize>().prop_map(Damage::RepeatLeaf),
        1 => any::<bool>().prop_map(Damage::RepeatContainer),
        1 => Just(Damage::SecondRoot),
        1 => prop_oneof![Just("<x/>"), Just("text"), Just("<![CDATA[c]]>"), Just("&lt;")]
            .prop_map(Damage::Trailing),
        1 => Just(Damage::SoapWithTwo),
        1 => Just(Damage::TextBeforeSecond),
    ]
}

/// The once-only leaves of the permit in the written XML: lines `<x>...</x>` after the header
/// starts (the document context before it carries no permit value) whose element the standard
/// does not repeat.
fn once_only_leaves(xml: &str) -> Vec<usize> {
    let header = xml
        .lines()
        .position(|line| line.trim() == "<rsm:HeaderExchangedDocument>")
        .unwrap_or(0);
    xml.lines()
        .enumerate()
        .skip(header)
        .filter(|(_, line)| {
            let line = line.trim();
            line.starts_with('<')
                && line.contains("</")
                && !["<ram:Information>", "<ram:StreetName>", "<ram:Marking>"]
                    .iter()
                    .any(|repeatable| line.starts_with(repeatable))
        })
        .map(|(index, _)| index)
        .collect()
}

fn damage(xml: &str, how: &Damage) -> Option<String> {
    let body = xml.split_once("?>\n").map_or(xml, |(_, body)| body);
    Some(match how {
        Damage::RepeatLeaf(n) => {
            let leaves = once_only_leaves(xml);
            if leaves.is_empty() {
                return None;
            }
            let target = leaves[n % leaves.len()];
            let mut lines: Vec<&str> = xml.lines().collect();
            let line = lines[target];
            lines.insert(target + 1, line);
            lines.join("\n")
        }
        Damage::RepeatContainer(header) => {
            let name = if *header {
                "rsm:HeaderExchangedDocument"
            } else {
                "rsm:SpecifiedSupplyChainConsignment"
            };
            let start = xml.find(&format!("<{name}>"))?;
            let end_tag = format!("</{name}>");
            let end = xml.find(&end_tag)? + end_tag.len();
            let mut out = xml.to_owned();
            out.insert_str(end, &xml[start..end]);
            out
        }
        Damage::SecondRoot => format!("{xml}{body}"),
        Damage::Trailing(what) => format!("{xml}{what}"),
        Damage::SoapWithTwo => format!(
            "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body>{body}{body}</soap:Body></soap:Envelope>"
        ),
        Damage::TextBeforeSecond => format!("<note/>see below{body}"),
    })
}

proptest! {
    #![proptest_config(Config {
        cases: 512,
        rng_seed: RngSeed::Fixed(0x19_02),
        failure_persistence: None,
        ..Config::default()
    })]

    /// Every ambiguous variant of a readable permit is refused, with an error (never a panic,
    /// never a permit).
    #[test]
    fn ambiguous_documents_are_refused(permit in arb_permit(), how in arb_damage()) {
        let xml = write_permit(&permit);
        prop_assert!(read_permit(xml.as_bytes()).is_ok(), "the undamaged permit reads");
        if let Some(damaged) = damage(&xml, &how) {
            let result = read_permit(damaged.as_bytes());
            prop_assert!(
                matches!(result, Err(Error::Ambiguous { .. } | Error::MalformedXml { .. })),
                "{how:?} was not refused (first changed line: {:?}): {result:?}",
                damaged.lines().zip(xml.lines()).find(|(a, b)| a != b).map(|(a, _)| a)
            );
        }
    }
}
