//! Toolkit v1 (`CBFShip`): EPIX's v1 answer reads into the same permit as its v2 answer, v1
//! findings and refusals name the v1 elements and the box, and the v1 writer round-trips.

use ecites_domain::model::{Block, Examination, Permit, Quantity, Signatory};
use ecites_domain::testing::{arb_permit, typical_permit};
use ecites_domain::validate;
use ecites_domain::xml::{
    read_permit, v1_losses, write_permit, write_permit_as, write_permit_v1, Version, V1_NAMESPACE,
};
use ecites_domain::{Error, Finding};
use proptest::prelude::*;

const EPIX_V1: &str = include_str!("fixtures/epix/v1-get-non-final-cites-certificate.xml");
const EPIX_V2: &str = include_str!("fixtures/epix/v2-get-non-final-cites-certificate.xml");

fn read(xml: &str) -> Permit {
    let decoded = read_permit(xml.as_bytes()).unwrap_or_else(|error| panic!("{error}\n{xml}"));
    assert_eq!(decoded.findings, vec![], "no structure findings expected");
    decoded.permit
}

fn refusal(xml: &str) -> Error {
    match read_permit(xml.as_bytes()) {
        Ok(decoded) => panic!("expected a refusal, read {:?}", decoded.permit),
        Err(error) => error,
    }
}

/// `permit` without what toolkit v1 has no element for (`v1_losses`): every block's marks and
/// the signatory's date (and the signatory itself when the date was all it had).
fn without_v1_losses(permit: &Permit) -> Permit {
    let mut permit = permit.clone();
    for block in &mut permit.blocks {
        block.marks.clear();
    }
    if let Some(signatory) = &mut permit.signatory {
        signatory.date = None;
        if *signatory == Signatory::default() {
            permit.signatory = None;
        }
    }
    permit
}

// ---- reading EPIX's v1 answer --------------------------------------------------------------

#[test]
fn epix_v1_sample_reads_into_the_same_permit_as_the_v2_sample_but_for_the_marks_v1_cannot_carry() {
    let v1 = read(EPIX_V1);
    let v2 = read(EPIX_V2);
    // The one field that differs: the v2 sample gives each block the identifying mark "XXX"
    // (`PhysicalLogisticsShippingMarks/Marking`); toolkit v1 items have no such element (EPIX's
    // `Cites::V1::PermitLineItem#markings` is always empty), so the v1 sample has none.
    assert_eq!(
        v2.blocks
            .iter()
            .map(|b| b.marks.clone())
            .collect::<Vec<_>>(),
        vec![vec!["XXX".to_owned()], vec!["XXX".to_owned()]]
    );
    assert!(v1.blocks.iter().all(|block| block.marks.is_empty()));
    assert_eq!(v1, without_v1_losses(&v2));
}

#[test]
fn epix_v1_sample_reads_the_nested_address_countries_and_the_government_procedure() {
    let permit = read(EPIX_V1);
    let country = |party: &Option<ecites_domain::model::Party>| {
        let address = &party.as_ref().unwrap().address;
        (
            address.country.as_ref().unwrap().as_str().to_owned(),
            address.country_name.clone().unwrap(),
        )
    };
    assert_eq!(
        country(&permit.issuing_authority),
        ("XA".into(), "Neverland".into())
    );
    assert_eq!(country(&permit.exporter), ("XA".into(), "Neverland".into()));
    assert_eq!(
        country(&permit.importer),
        ("XB".into(), "Wonderland".into())
    );
    // The procedures are empty in the sample: a quota given there is read.
    let with_quota = EPIX_V1.replacen(
        "<urn1:AnnualQuotaQuantity unitCode=\"?\"></urn1:AnnualQuotaQuantity>",
        "<urn1:AnnualQuotaQuantity unitCode=\"PCS\">300</urn1:AnnualQuotaQuantity>",
        1,
    );
    let quota = read(&with_quota).blocks[0].quota.clone().unwrap();
    assert_eq!(quota.annual.unwrap().value, 300.into());
}

#[test]
fn v1_subdivision_and_inspected_quantity_are_read() {
    // The first subdivision in the document is the issuing authority's.
    let subdivision = EPIX_V1
        .find("<urn1:SubordinateTradeCountrySubDivision>")
        .unwrap();
    let empty = subdivision
        + EPIX_V1[subdivision..]
            .find("<urn1:Name></urn1:Name>")
            .unwrap();
    let xml = format!(
        "{}<urn1:Name>North</urn1:Name>{}",
        &EPIX_V1[..empty],
        &EPIX_V1[empty + "<urn1:Name></urn1:Name>".len()..]
    )
    .replacen(
        "<urn1:InspectedUnitQuantity unitCode=\"?\"></urn1:InspectedUnitQuantity>",
        "<urn1:InspectedUnitQuantity unitCode=\"PCS\">4</urn1:InspectedUnitQuantity>",
        1,
    );
    let permit = read(&xml);
    assert_eq!(
        permit
            .issuing_authority
            .unwrap()
            .address
            .subdivision
            .as_deref(),
        Some("North"),
        "the first authentication's address carries the subdivision"
    );
    let endorsed = permit.export_endorsement.unwrap().quantity.unwrap();
    assert_eq!(endorsed.value, 4.into());
}

#[test]
fn bare_cbfship_in_its_namespace_or_in_a_default_namespace_reads_the_same() {
    let expected = read(EPIX_V1);
    let start = EPIX_V1.find("<CBFShip>").unwrap();
    let end = EPIX_V1.find("</CBFShip>").unwrap() + "</CBFShip>".len();
    let bare = EPIX_V1[start..end].replacen(
        "<CBFShip>",
        &format!(
            "<rsm:CBFShip xmlns:rsm=\"{V1_NAMESPACE}\" xmlns:urn=\"{V1_NAMESPACE}\" \
             xmlns:urn1=\"urn:un:unece:uncefact:data:draft:ReusableAggregateBusinessInformationEntity:1\">"
        ),
        1,
    );
    let bare = bare.replace("</CBFShip>", "</rsm:CBFShip>");
    assert_eq!(read(&bare), expected);
    let unprefixed = EPIX_V1[start..end]
        .replace("<urn1:", "<")
        .replace("</urn1:", "</")
        .replace("<urn:", "<")
        .replace("</urn:", "</")
        .replacen(
            "<CBFShip>",
            &format!("<CBFShip xmlns=\"{V1_NAMESPACE}\">"),
            1,
        );
    assert_eq!(read(&unprefixed), expected);
}

// ---- refusals and findings name the v1 element and the box ---------------------------------

#[test]
fn cbfship_in_the_v2_namespace_is_refused_naming_both_namespaces() {
    let xml = "<p:CBFShip xmlns:p=\"urn:un:unece:uncefact:data:standard:CITESEPermit:2\"/>";
    let message = refusal(xml).to_string();
    assert!(message.contains("CBFShip"), "{message}");
    assert!(message.contains(V1_NAMESPACE), "{message}");
    assert!(message.contains("CITESEPermit:2"), "{message}");
}

#[test]
fn a_cbfship_beside_a_citesepermit_is_a_second_permit() {
    let xml = format!(
        "<Response>{}{}</Response>",
        "<CITESEPermit><HeaderExchangedDocument><ID>1</ID></HeaderExchangedDocument></CITESEPermit>",
        "<CBFShip><HeaderExchangedDocument><ID>2</ID></HeaderExchangedDocument></CBFShip>"
    );
    let message = refusal(&xml).to_string();
    assert!(
        message.contains("a CBFShip element after a CITESEPermit element (a second permit)"),
        "{message}"
    );
    let two_v1 = EPIX_V1.replace("<Composite>", "<CBFShip/><Composite>");
    assert!(refusal(&two_v1)
        .to_string()
        .contains("a second CBFShip element"));
}

#[test]
fn v1_and_v2_spellings_of_one_value_in_one_permit_are_refused_naming_both() {
    let both_countries = EPIX_V1.replacen(
        "<urn1:CityName>City</urn1:CityName>",
        "<urn1:CityName>City</urn1:CityName><urn1:CountryID>XZ</urn1:CountryID>",
        1,
    );
    let message = refusal(&both_countries).to_string();
    assert!(
        message.contains("<CountryIdentificationTradeCountry>")
            && message.contains("<CountryID>")
            && message.contains("PostalTradeAddress"),
        "{message}"
    );
    let both_quantities = EPIX_V1.replacen(
        "<urn1:InspectedUnitQuantity unitCode=\"?\"></urn1:InspectedUnitQuantity>",
        "<urn1:InspectedUnitQuantity>1</urn1:InspectedUnitQuantity><urn1:UnitQuantity>2</urn1:UnitQuantity>",
        1,
    );
    let message = refusal(&both_quantities).to_string();
    assert!(
        message.contains("<UnitQuantity>") && message.contains("<InspectedUnitQuantity>"),
        "{message}"
    );
    let both_procedures = EPIX_V1.replacen(
        "</urn1:ApplicableCrossBorderGovernmentProcedure>",
        "</urn1:ApplicableCrossBorderGovernmentProcedure><urn1:ApplicableCrossBorderRegulatoryProcedure/>",
        1,
    );
    let message = refusal(&both_procedures).to_string();
    assert!(
        message.contains("ApplicableCrossBorderRegulatoryProcedure")
            && message.contains("ApplicableCrossBorderGovernmentProcedure"),
        "{message}"
    );
}

#[test]
fn two_country_ids_in_one_v1_address_are_refused_naming_the_element() {
    let xml = EPIX_V1.replacen(
        "<urn1:ID>XA</urn1:ID>",
        "<urn1:ID>XA</urn1:ID><urn1:ID>XB</urn1:ID>",
        1,
    );
    let message = refusal(&xml).to_string();
    assert!(
        message.contains(
            "<ID> occurs a second time in /CBFShip/HeaderExchangedDocument/FirstSignatoryDocumentAuthentication/ProviderTradeParty/PostalTradeAddress/CountryIdentificationTradeCountry"
        ),
        "{message}"
    );
}

fn finding<'f>(findings: &'f [Finding], rule: &str) -> &'f Finding {
    findings
        .iter()
        .find(|finding| finding.rule == rule)
        .unwrap_or_else(|| panic!("no {rule} in {findings:#?}"))
}

#[test]
fn unreadable_v1_values_are_findings_naming_the_v1_element_path_field_and_box() {
    let xml = EPIX_V1
        .replacen(
            "<urn1:InspectedUnitQuantity unitCode=\"?\"></urn1:InspectedUnitQuantity>",
            "<urn1:InspectedUnitQuantity unitCode=\"PCS\">five</urn1:InspectedUnitQuantity>",
            1,
        )
        .replacen(
            "<urn1:AcquisitionDateTime></urn1:AcquisitionDateTime>",
            "<urn1:AcquisitionDateTime>last spring</urn1:AcquisitionDateTime>",
            1,
        );
    let findings = read_permit(xml.as_bytes()).unwrap().findings;
    let number = finding(&findings, "number-format");
    assert_eq!(number.field, "export_endorsement.quantity");
    assert_eq!(
        number.path,
        "/CBFShip/SpecifiedSupplyChainConsignment/ExaminationTransportEvent/InspectedUnitQuantity"
    );
    assert_eq!(number.permit_box.as_deref(), Some("14"));
    let date = finding(&findings, "date-format");
    assert_eq!(date.field, "blocks[0].acquisition_date");
    assert_eq!(
        date.path,
        "/CBFShip/SpecifiedSupplyChainConsignment/IncludedSupplyChainConsignmentItem[1]/ApplicableCrossBorderGovernmentProcedure/AcquisitionDateTime"
    );
    assert_eq!(date.permit_box.as_deref(), Some("12b"));
}

#[test]
fn an_element_inside_a_v1_country_id_is_reported_with_its_path_and_box() {
    let xml = EPIX_V1.replacen(
        "<urn1:ID>XB</urn1:ID>",
        "<urn1:ID><urn1:Code>XB</urn1:Code></urn1:ID>",
        1,
    );
    let decoded = read_permit(xml.as_bytes()).unwrap();
    let unknown = finding(&decoded.findings, "value-element-unknown");
    assert_eq!(unknown.field, "importer.address");
    assert_eq!(
        unknown.path,
        "/CBFShip/SpecifiedSupplyChainConsignment/ConsigneeTradeParty/PostalTradeAddress/CountryIdentificationTradeCountry/ID/Code"
    );
    assert_eq!(unknown.permit_box.as_deref(), Some("3"));
    assert_eq!(decoded.permit.importer.unwrap().address.country, None);
}

/// The rule, field and box of each finding (the element paths differ by the root's name).
fn rules(findings: &[Finding]) -> Vec<(String, String, Option<String>)> {
    findings
        .iter()
        .map(|f| (f.rule.clone(), f.field.clone(), f.permit_box.clone()))
        .collect()
}

#[test]
fn missing_and_unknown_values_give_the_same_findings_in_v1_as_in_v2() {
    // The same edits to both samples: no scientific name in block A, an unknown term code in
    // block B, no importer country, an unknown purpose.
    let edit = |xml: &str| {
        xml.replacen(
            "Alligator mississippiensis</urn1:ScientificName>",
            "</urn1:ScientificName>",
            1,
        )
        .replace(">XB<", "><")
        .replacen(">T</urn1:PurposeCode>", ">K</urn1:PurposeCode>", 1)
    };
    let term_b = |xml: String| {
        let at = xml.rfind(">LPS<").unwrap();
        format!("{}>XYZ<{}", &xml[..at], &xml[at + ">LPS<".len()..])
    };
    let v1 = read_permit(term_b(edit(EPIX_V1)).as_bytes()).unwrap();
    let v2 = read_permit(term_b(edit(EPIX_V2)).as_bytes()).unwrap();
    assert_eq!(v1.findings, vec![]);
    assert_eq!(v2.findings, vec![]);
    let v1_findings = validate(&v1.permit);
    let v2_findings = validate(&v2.permit);
    for rule in [
        "scientific-name-required",
        "importer-country-required",
        "term-unknown",
        "purpose-unknown",
    ] {
        finding(&v1_findings, rule);
    }
    assert_eq!(rules(&v1_findings), rules(&v2_findings));
}

// ---- writing v1 -----------------------------------------------------------------------------

fn round_trip_v1(permit: &Permit) -> Permit {
    let xml = write_permit_v1(permit);
    let decoded = read_permit(xml.as_bytes()).unwrap_or_else(|error| panic!("{error}\n{xml}"));
    assert_eq!(decoded.findings, vec![], "{xml}");
    decoded.permit
}

#[test]
fn v1_is_written_with_the_v1_root_namespace_and_v1_spellings() {
    let mut permit = typical_permit(2);
    permit.export_endorsement = Some(Examination {
        quantity: Some(Quantity {
            value: 3.into(),
            unit: None,
        }),
        ..Examination::default()
    });
    let xml = write_permit_v1(&permit);
    assert!(xml.starts_with(&format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rsm:CBFShip xmlns:rsm=\"{V1_NAMESPACE}\" xmlns:ram=\"urn:un:unece:uncefact:data:draft:ReusableAggregateBusinessInformationEntity:1\">\n"
    )));
    assert!(xml.ends_with("</rsm:CBFShip>\n"));
    for v1 in [
        "<ram:CountryIdentificationTradeCountry>",
        "<ram:InspectedUnitQuantity",
        "<ram:ApplicableCrossBorderGovernmentProcedure>",
    ] {
        assert!(xml.contains(v1), "{v1} missing:\n{xml}");
    }
    for v2_only in [
        "CITESEPermit",
        "<ram:CountryID>",
        "<ram:CountryName>",
        "<ram:UnitQuantity",
        "ApplicableCrossBorderRegulatoryProcedure",
        "PhysicalLogisticsShippingMarks",
        "ActualDateTime",
    ] {
        assert!(!xml.contains(v2_only), "{v2_only} written:\n{xml}");
    }
    assert!(!xml.contains("></ram:"), "no empty elements:\n{xml}");
    assert_eq!(write_permit_as(&permit, Version::V1), xml);
    assert_eq!(write_permit_as(&permit, Version::V2), write_permit(&permit));
}

#[test]
fn v2_sample_to_model_to_v1_to_model_loses_only_the_marks() {
    let v2 = read(EPIX_V2);
    assert_eq!(v1_losses(&v2), vec!["blocks[0].marks", "blocks[1].marks"]);
    assert_eq!(round_trip_v1(&v2), without_v1_losses(&v2));
    // And the v1 sample itself round-trips exactly: it has nothing v1 cannot carry.
    let v1 = read(EPIX_V1);
    assert_eq!(v1_losses(&v1), Vec::<String>::new());
    assert_eq!(round_trip_v1(&v1), v1);
}

#[test]
fn typical_permits_round_trip_through_v1_but_for_marks_and_the_signature_date() {
    for blocks in [0, 1, 3, 50] {
        let permit = typical_permit(blocks);
        assert_eq!(round_trip_v1(&permit), without_v1_losses(&permit));
    }
}

#[test]
fn v1_losses_name_exactly_the_fields_v1_cannot_carry() {
    let permit = Permit {
        signatory: Some(Signatory {
            date: Some(ecites_domain::Timestamp::parse("2026-11-30").unwrap()),
            ..Signatory::default()
        }),
        blocks: vec![
            Block {
                id: "A".into(),
                ..Block::default()
            },
            Block {
                id: "B".into(),
                marks: vec!["ring 12".into()],
                ..Block::default()
            },
        ],
        ..Permit::default()
    };
    assert_eq!(
        v1_losses(&permit),
        vec!["signatory.date", "blocks[1].marks"]
    );
    // A signatory with only a date has nothing left in v1: no empty authentication is written.
    let xml = write_permit_v1(&permit);
    assert!(
        !xml.contains("ThirdSignatoryDocumentAuthentication"),
        "{xml}"
    );
    assert_eq!(round_trip_v1(&permit), without_v1_losses(&permit));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn generated_permits_round_trip_through_v1_but_for_what_v1_cannot_carry(permit in arb_permit()) {
        let xml = write_permit_v1(&permit);
        let decoded = read_permit(xml.as_bytes()).map_err(|error| TestCaseError::fail(format!("{error}\n{xml}")))?;
        prop_assert_eq!(decoded.findings, vec![]);
        prop_assert_eq!(&decoded.permit, &without_v1_losses(&permit), "{}", xml);
        prop_assert_eq!(write_permit_v1(&decoded.permit), xml);
        // v2 → model → v1 → model: the same, through the canonical form.
        let from_v2 = read_permit(write_permit(&permit).as_bytes()).unwrap().permit;
        prop_assert_eq!(round_trip_v1(&from_v2), without_v1_losses(&permit));
    }
}
