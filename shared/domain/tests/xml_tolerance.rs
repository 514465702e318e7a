//! What the reader tolerates, and the findings it reports instead of failing.

use ecites_domain::codes::{Coded, Purpose, Term, Unit};
use ecites_domain::model::{Quantity, Timestamp};
use ecites_domain::xml::read_permit;
use ecites_domain::{Decoded, Finding, Severity, Tier};
use rust_decimal::Decimal;

const EPIX: &str = include_str!("fixtures/epix/v2-get-non-final-cites-certificate.xml");

fn read(xml: &str) -> Decoded {
    read_permit(xml.as_bytes()).unwrap_or_else(|error| panic!("{error}"))
}

/// A bare permit with the given header and consignment contents.
fn permit(header: &str, consignment: &str) -> String {
    format!(
        "<rsm:CITESEPermit xmlns:rsm=\"urn:un:unece:uncefact:data:standard:CITESEPermit:2\" \
         xmlns:ram=\"urn:un:unece:uncefact:data:draft:ReusableAggregateBusinessInformationEntity:1\">\
         <rsm:HeaderExchangedDocument>{header}</rsm:HeaderExchangedDocument>\
         <rsm:SpecifiedSupplyChainConsignment>{consignment}</rsm:SpecifiedSupplyChainConsignment>\
         </rsm:CITESEPermit>"
    )
}

fn item(contents: &str) -> String {
    format!("<ram:IncludedSupplyChainConsignmentItem>{contents}</ram:IncludedSupplyChainConsignmentItem>")
}

fn document(type_code: &str, id: &str, date: &str) -> String {
    format!(
        "<ram:AssociatedReferencedDocument><ram:IssueDateTime>{date}</ram:IssueDateTime>\
         <ram:TypeCode>{type_code}</ram:TypeCode><ram:ID>{id}</ram:ID></ram:AssociatedReferencedDocument>"
    )
}

#[test]
fn placeholder_unit_means_no_unit() {
    let xml = EPIX.replace("unitCode=\"PCS\">5<", "unitCode=\"?\">5<");
    let decoded = read(&xml);
    assert_eq!(
        decoded.permit.blocks[0].quantity,
        Some(Quantity {
            value: Decimal::new(5, 0),
            unit: None
        })
    );
    let xml = permit("", &item("<ram:TransportLogisticsPackage><ram:ItemQuantity unitCode=\" \">2.50</ram:ItemQuantity></ram:TransportLogisticsPackage>"));
    let quantity = read(&xml).permit.blocks[0].quantity.clone().unwrap();
    assert_eq!(quantity.unit, None);
    assert_eq!(quantity.value.to_string(), "2.50");
}

#[test]
fn empty_and_blank_elements_are_absent_never_empty_strings() {
    let decoded = read(&permit(
        "<ram:ID>  </ram:ID><ram:Name></ram:Name><ram:Purpose>\n\t</ram:Purpose><ram:PurposeCode/>\
         <ram:IssueDateTime> </ram:IssueDateTime><ram:Information> </ram:Information>",
        &item("<ram:ID/><ram:PhysicalLogisticsShippingMarks><ram:Marking> </ram:Marking></ram:PhysicalLogisticsShippingMarks>\
               <ram:TransportLogisticsPackage><ram:ItemQuantity unitCode=\"PCS\"></ram:ItemQuantity></ram:TransportLogisticsPackage>"),
    ));
    assert_eq!(decoded.findings, vec![]);
    let permit = decoded.permit;
    assert_eq!(permit.permit_number, "");
    assert_eq!(permit.document_name, None);
    assert_eq!(permit.purpose_text, None);
    assert_eq!(permit.purpose, None);
    assert_eq!(permit.issue_date, None);
    assert!(permit.special_conditions.is_empty());
    assert_eq!(permit.blocks.len(), 1);
    assert!(permit.blocks[0].marks.is_empty());
    assert_eq!(permit.blocks[0].quantity, None);
}

#[test]
fn values_are_trimmed() {
    let decoded = read(&permit(
        "<ram:ID>\n   XA-1 \n</ram:ID><ram:PurposeCode> T </ram:PurposeCode>",
        "",
    ));
    assert_eq!(decoded.permit.permit_number, "XA-1");
    assert_eq!(decoded.permit.purpose, Some(Coded::Known(Purpose::T)));
}

#[test]
fn unknown_elements_and_signatories_two_and_four_are_ignored() {
    let xml = permit(
        "<ram:Extension><ram:ID>NOT-THE-NUMBER</ram:ID><ram:TypeCode>Z</ram:TypeCode></ram:Extension>\
         <ram:ID>XA1</ram:ID>\
         <ram:SecondSignatoryDocumentAuthentication><ram:ID>S2</ram:ID><ram:ProviderTradeParty><ram:Name>Customs</ram:Name></ram:ProviderTradeParty></ram:SecondSignatoryDocumentAuthentication>\
         <ram:FourthSignatoryDocumentAuthentication><ram:ActualDateTime>not a date</ram:ActualDateTime></ram:FourthSignatoryDocumentAuthentication>\
         <ram:FirstSignatoryDocumentAuthentication><ram:ID>S1</ram:ID><ram:Whatever>x</ram:Whatever></ram:FirstSignatoryDocumentAuthentication>",
        "<ram:ConsignorTradeParty><ram:Name>Exporter<ram:Note>ignored</ram:Note></ram:Name></ram:ConsignorTradeParty>",
    );
    let decoded = read(&xml);
    // An element inside a value (the exporter's name) is not dropped silently: one warning.
    let rules: Vec<&str> = decoded.findings.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(rules, ["value-element-unknown"]);
    assert_eq!(decoded.findings[0].field, "exporter");
    assert_eq!(decoded.permit.permit_number, "XA1");
    assert_eq!(decoded.permit.document_type, None);
    assert_eq!(decoded.permit.security_stamp.as_deref(), Some("S1"));
    assert_eq!(decoded.permit.issuing_authority, None);
    assert_eq!(decoded.permit.signatory, None);
    assert_eq!(
        decoded.permit.exporter.unwrap().name.as_deref(),
        Some("Exporter")
    );
}

#[test]
fn unknown_codes_are_kept_for_validation_not_reported_by_the_reader() {
    let decoded = read(&permit(
        "<ram:TypeCode>X</ram:TypeCode><ram:PurposeCode>Q9</ram:PurposeCode>",
        &item("<ram:IncludedSupplyChainTradeLineItem><ram:TypeCode>IV</ram:TypeCode>\
               <ram:SpecifiedTradeProduct><ram:TypeCode>WAT</ram:TypeCode></ram:SpecifiedTradeProduct>\
               </ram:IncludedSupplyChainTradeLineItem>\
               <ram:TransportLogisticsPackage><ram:ItemQuantity unitCode=\"KGM\">1</ram:ItemQuantity></ram:TransportLogisticsPackage>"),
    ));
    assert_eq!(decoded.findings, vec![]);
    let permit = decoded.permit;
    assert_eq!(permit.document_type, Some(Coded::Unknown("X".into())));
    assert_eq!(permit.purpose, Some(Coded::Unknown("Q9".into())));
    assert_eq!(permit.blocks[0].appendix, Some(Coded::Unknown("IV".into())));
    assert_eq!(permit.blocks[0].term, Some(Coded::Known(Term::WAT)));
    assert_eq!(
        permit.blocks[0].quantity.as_ref().unwrap().unit,
        Some(Coded::<Unit>::Unknown("KGM".into()))
    );
}

#[test]
fn bad_quantity_is_a_structure_finding_naming_block_box_and_element() {
    let good = item("<ram:ID>A</ram:ID><ram:TransportLogisticsPackage><ram:ItemQuantity>1</ram:ItemQuantity></ram:TransportLogisticsPackage>");
    let bad = item("<ram:ID>B</ram:ID><ram:TransportLogisticsPackage><ram:ItemQuantity unitCode=\"KIL\">12,5</ram:ItemQuantity></ram:TransportLogisticsPackage>");
    let decoded = read(&permit("", &format!("{good}{bad}")));
    assert_eq!(decoded.permit.blocks.len(), 2);
    assert_eq!(decoded.permit.blocks[1].quantity, None);
    assert_eq!(decoded.permit.blocks[1].id, "B");
    let [finding] = decoded.findings.as_slice() else {
        panic!("{:?}", decoded.findings)
    };
    assert_eq!(finding.severity, Severity::Error);
    assert_eq!(finding.tier, Tier::Structure);
    assert_eq!(finding.rule, "number-format");
    assert_eq!(finding.field, "blocks[1].quantity");
    assert_eq!(
        finding.path,
        "/CITESEPermit/SpecifiedSupplyChainConsignment/IncludedSupplyChainConsignmentItem[2]/TransportLogisticsPackage/ItemQuantity"
    );
    assert_eq!(finding.permit_box.as_deref(), Some("11"));
    assert!(finding.message.contains("\"12,5\""), "{}", finding.message);
    assert!(
        finding.message.contains("not a number"),
        "{}",
        finding.message
    );
}

#[test]
fn bad_dates_are_findings_and_the_rest_of_the_permit_is_read() {
    let xml = EPIX
        .replace(">2014-01-06T12:03:52.00+01:00<", ">06/01/2014<")
        .replace(
            ">2014-07-05T12:03:52.000+02:00</urn1:EndDateTime>\n               </urn1:EffectiveSpecifiedPeriod>\n               <!--Optional:-->\n               <urn1:IssueLogisticsLocation>",
            ">5 July 2014</urn1:EndDateTime>\n               </urn1:EffectiveSpecifiedPeriod>\n               <!--Optional:-->\n               <urn1:IssueLogisticsLocation>",
        )
        .replacen(">2012-02-23T00:00:00.000+01:00<", ">2012-02-30<", 1);
    let decoded = read(&xml);
    assert_eq!(decoded.permit.issue_date, None);
    assert_eq!(decoded.permit.valid_until, None);
    assert_eq!(decoded.permit.permit_number, "XA000000");
    assert_eq!(decoded.permit.blocks.len(), 2);
    let reexport = decoded.permit.blocks[0].last_reexport.as_ref().unwrap();
    assert_eq!(reexport.permit_number.as_deref(), Some("XA12345"));
    assert_eq!(reexport.permit_date, None);

    let summary: Vec<(&str, &str, Option<&str>, &str)> = decoded
        .findings
        .iter()
        .map(|f: &Finding| {
            (
                f.rule.as_str(),
                f.field.as_str(),
                f.permit_box.as_deref(),
                f.path.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("date-format", "issue_date", Some("13"), "/CITESEPermit/HeaderExchangedDocument/IssueDateTime"),
            ("date-format", "valid_until", Some("2"), "/CITESEPermit/HeaderExchangedDocument/EffectiveSpecifiedPeriod/EndDateTime"),
            (
                "date-format",
                "blocks[0].last_reexport.permit_date",
                Some("12a"),
                "/CITESEPermit/SpecifiedSupplyChainConsignment/IncludedSupplyChainConsignmentItem[1]/AssociatedReferencedDocument[2]/IssueDateTime"
            ),
        ]
    );
    assert!(decoded
        .findings
        .iter()
        .all(|f| f.severity == Severity::Error && f.tier == Tier::Structure));
    assert!(decoded.findings[0].message.contains("\"06/01/2014\""));
    assert!(decoded.findings[0].message.contains("ISO 8601"));
}

#[test]
fn unknown_copy_indicator_is_a_finding() {
    let decoded = read(&permit("<ram:CopyIndicator>yes</ram:CopyIndicator>", ""));
    assert_eq!(decoded.permit.copy, None);
    assert_eq!(decoded.findings.len(), 1);
    assert_eq!(decoded.findings[0].rule, "boolean-format");
    assert_eq!(decoded.findings[0].field, "copy");
    assert_eq!(
        decoded.findings[0].path,
        "/CITESEPermit/HeaderExchangedDocument/CopyIndicator"
    );
    let decoded = read(&permit("<ram:CopyIndicator>1</ram:CopyIndicator>", ""));
    assert_eq!(decoded.permit.copy, Some(true));
}

#[test]
fn documents_without_type_codes_are_assigned_by_country_prefix() {
    let xml = permit(
        "",
        &item(&format!(
            "<ram:OriginTradeCountry><ram:ID>TH</ram:ID></ram:OriginTradeCountry>\
             <ram:ExportTradeCountry><ram:ID>FR</ram:ID></ram:ExportTradeCountry>{}{}",
            document("", "FR-RE-1", "2012-02-23"),
            document("", "TH-ORIG-9", "2007-07-09"),
        )),
    );
    let block = &read(&xml).permit.blocks[0];
    let origin = block.origin.as_ref().unwrap();
    let reexport = block.last_reexport.as_ref().unwrap();
    assert_eq!(origin.permit_number.as_deref(), Some("TH-ORIG-9"));
    assert_eq!(origin.permit_date, Timestamp::parse("2007-07-09").ok());
    assert_eq!(reexport.permit_number.as_deref(), Some("FR-RE-1"));
    let decoded = read(&xml);
    let rules: Vec<&str> = decoded.findings.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(rules, ["reference-box-inferred", "reference-box-inferred"]);
}

#[test]
fn documents_with_other_type_codes_and_no_prefix_are_assigned_in_order() {
    let xml = permit(
        "",
        &item(&format!(
            "<ram:OriginTradeCountry><ram:ID>TH</ram:ID></ram:OriginTradeCountry>{}{}{}",
            document("911", "", ""),
            document("999", "0001", ""),
            document("", "0002", "2012-01-01"),
        )),
    );
    let decoded = read(&xml);
    let block = &decoded.permit.blocks[0];
    assert_eq!(
        block.origin.as_ref().unwrap().permit_number.as_deref(),
        Some("0001")
    );
    assert_eq!(
        block.origin.as_ref().unwrap().country,
        Some(Coded::parse("TH"))
    );
    assert_eq!(
        block
            .last_reexport
            .as_ref()
            .unwrap()
            .permit_number
            .as_deref(),
        Some("0002")
    );
    assert_eq!(block.last_reexport.as_ref().unwrap().country, None);
    // The empty 911 document is dropped without a finding (it says nothing); each box given by
    // position is reported, never a silent guess.
    let inferred: Vec<(&str, Option<&str>)> = decoded
        .findings
        .iter()
        .map(|f| (f.rule.as_str(), f.permit_box.as_deref()))
        .collect();
    assert_eq!(
        inferred,
        [
            ("reference-box-inferred", Some("12")),
            ("reference-box-inferred", Some("12a"))
        ]
    );
    assert!(decoded.findings[0].message.contains("by its position"));
}

#[test]
fn year_prefixed_numbers_go_to_the_box_of_their_country_with_a_warning_never_by_position() {
    // Last re-export first, no type codes: the national system's order must not swap the boxes.
    let xml = permit(
        "",
        &item(&format!(
            "<ram:OriginTradeCountry><ram:ID>US</ram:ID></ram:OriginTradeCountry>             <ram:ExportTradeCountry><ram:ID>DE</ram:ID></ram:ExportTradeCountry>{}{}",
            document("", "26DE004711", "2026-01-20"),
            document("", "25US812345", "2025-05-14"),
        )),
    );
    let decoded = read(&xml);
    let block = &decoded.permit.blocks[0];
    let number = |r: &Option<ecites_domain::model::CountryReference>| {
        r.as_ref().unwrap().permit_number.clone().unwrap()
    };
    assert_eq!(number(&block.origin), "25US812345");
    assert_eq!(number(&block.last_reexport), "26DE004711");
    let found: Vec<(&str, &str, Option<&str>)> = decoded
        .findings
        .iter()
        .map(|f| (f.rule.as_str(), f.field.as_str(), f.permit_box.as_deref()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "reference-box-inferred",
                "blocks[0].last_reexport.permit_number",
                Some("12a")
            ),
            (
                "reference-box-inferred",
                "blocks[0].origin.permit_number",
                Some("12")
            ),
        ]
    );
    assert!(
        decoded.findings[0].message.contains("country DE"),
        "{}",
        decoded.findings[0].message
    );
}

#[test]
fn type_codes_win_over_order_and_a_third_document_is_reported() {
    let xml = permit(
        "",
        &item(&format!(
            "<ram:ID>A</ram:ID>{}{}{}",
            document("811", "RE-1", ""),
            document("861", "OR-1", ""),
            document("", "EXTRA", ""),
        )),
    );
    let decoded = read(&xml);
    let block = &decoded.permit.blocks[0];
    assert_eq!(
        block.origin.as_ref().unwrap().permit_number.as_deref(),
        Some("OR-1")
    );
    assert_eq!(
        block
            .last_reexport
            .as_ref()
            .unwrap()
            .permit_number
            .as_deref(),
        Some("RE-1")
    );
    assert_eq!(decoded.findings.len(), 1);
    assert_eq!(decoded.findings[0].severity, Severity::Warning);
    assert_eq!(decoded.findings[0].rule, "reference-unassigned");
    assert!(decoded.findings[0].message.contains("EXTRA"));
}

#[test]
fn a_wrapper_holding_two_permits_is_refused_not_read_first_wins() {
    // A second permit in one document is refused: one meaning per document.
    let first = permit("<ram:ID>FIRST</ram:ID>", "");
    let second = permit("<ram:ID>SECOND</ram:ID>", "");
    let xml = format!("<Batch>{first}{second}</Batch>");
    let error = read_permit(xml.as_bytes()).unwrap_err();
    assert!(error.to_string().contains("second CITESEPermit"), "{error}");
}

#[test]
fn header_references_and_the_whole_consignment_endorsement_are_read() {
    let xml = permit(
        "<ram:ReferenceReferencedDocument><ram:IssueDateTime>2024-01-02</ram:IssueDateTime>\
         <ram:TypeCode listID=\"1001\" listAgencyID=\"6\">811</ram:TypeCode><ram:ID>OLD-1</ram:ID></ram:ReferenceReferencedDocument>\
         <ram:ReferenceReferencedDocument><ram:TypeCode>811</ram:TypeCode></ram:ReferenceReferencedDocument>",
        "<ram:ExaminationTransportEvent><ram:ActualOccurrenceDateTime>2024-02-03T10:00:00Z</ram:ActualOccurrenceDateTime>\
         <ram:UnitQuantity unitCode=\"BOX\">3</ram:UnitQuantity>\
         <ram:OccurrenceLogisticsLocation><ram:ID>FRCDG</ram:ID><ram:Name>Roissy</ram:Name></ram:OccurrenceLogisticsLocation>\
         <ram:CertifyingTradeParty><ram:Name>Douane</ram:Name></ram:CertifyingTradeParty></ram:ExaminationTransportEvent>",
    );
    let decoded = read(&xml);
    assert_eq!(decoded.findings, vec![]);
    let permit = decoded.permit;
    assert_eq!(
        permit.references.len(),
        1,
        "a reference with neither number nor date is dropped"
    );
    assert_eq!(permit.references[0].id.as_deref(), Some("OLD-1"));
    assert_eq!(permit.references[0].type_code.as_deref(), Some("811"));
    let endorsement = permit.export_endorsement.unwrap();
    assert_eq!(endorsement.port.unwrap().id.as_deref(), Some("FRCDG"));
    assert_eq!(
        endorsement.certifier.unwrap().name.as_deref(),
        Some("Douane")
    );
    assert_eq!(
        endorsement.quantity.unwrap().unit,
        Some(Coded::Known(Unit::BOX))
    );
}

// ---- values in child elements -----------------------------------------------

#[test]
fn un_cefact_date_strings_fill_every_date_of_the_permit() {
    let dts = |format: &str, text: &str| {
        format!("<udt:DateTimeString xmlns:udt=\"urn:un:unece:uncefact:data:standard:UnqualifiedDataType:8\"{format}>{text}</udt:DateTimeString>")
    };
    let xml = permit(
        &format!(
            "<ram:IssueDateTime>{}</ram:IssueDateTime>\
             <ram:EffectiveSpecifiedPeriod><ram:StartDateTime>{}</ram:StartDateTime>\
             <ram:EndDateTime>{}</ram:EndDateTime></ram:EffectiveSpecifiedPeriod>",
            dts(" format=\"204\"", "20261120093000"),
            dts(" format=\"102\"", "20261120"),
            dts("", "20270519"),
        ),
        &item(&format!(
            "<ram:ApplicableCrossBorderRegulatoryProcedure><ram:AcquisitionDateTime>{}</ram:AcquisitionDateTime></ram:ApplicableCrossBorderRegulatoryProcedure>\
             <ram:AssociatedReferencedDocument><ram:IssueDateTime>{}</ram:IssueDateTime><ram:TypeCode>861</ram:TypeCode><ram:ID>25US1</ram:ID></ram:AssociatedReferencedDocument>",
            dts(" format=\"203\"", "196805011200"),
            dts(" format=\"205\"", "20250102030405+0700"),
        )),
    );
    let decoded = read(&xml);
    assert_eq!(decoded.findings, Vec::<Finding>::new());
    let permit = &decoded.permit;
    let text = |t: &Option<Timestamp>| t.map(|t| t.to_string());
    assert_eq!(
        text(&permit.issue_date).as_deref(),
        Some("2026-11-20T09:30:00")
    );
    assert_eq!(text(&permit.valid_from).as_deref(), Some("2026-11-20"));
    assert_eq!(text(&permit.valid_until).as_deref(), Some("2027-05-19"));
    let block = &permit.blocks[0];
    assert_eq!(
        text(&block.acquisition_date).as_deref(),
        Some("1968-05-01T12:00:00")
    );
    let origin = block.origin.as_ref().unwrap();
    assert_eq!(
        text(&origin.permit_date).as_deref(),
        Some("2025-01-02T03:04:05+07:00")
    );
}

#[test]
fn a_date_string_that_does_not_match_its_format_is_a_date_finding_with_its_path() {
    let xml = permit(
        "<ram:EffectiveSpecifiedPeriod><ram:StartDateTime><udt:DateTimeString format=\"102\">2026-11-20</udt:DateTimeString></ram:StartDateTime></ram:EffectiveSpecifiedPeriod>",
        "",
    );
    let decoded = read(&xml);
    assert_eq!(decoded.permit.valid_from, None);
    assert_eq!(decoded.findings.len(), 1, "{:?}", decoded.findings);
    let finding = &decoded.findings[0];
    assert_eq!(
        (finding.rule.as_str(), finding.field.as_str()),
        ("date-format", "valid_from")
    );
    assert!(
        finding.path.ends_with("/StartDateTime/DateTimeString"),
        "{}",
        finding.path
    );
    assert!(
        finding.message.contains("format 102"),
        "{}",
        finding.message
    );
}

#[test]
fn an_element_not_understood_where_a_value_belongs_is_a_warning_naming_path_and_box() {
    let xml = permit(
        "<ram:EffectiveSpecifiedPeriod><ram:EndDateTime><x:When xmlns:x=\"urn:x\">2027-05-19</x:When></ram:EndDateTime></ram:EffectiveSpecifiedPeriod>",
        &item("<ram:TransportLogisticsPackage><ram:ItemQuantity><ram:Amount>3</ram:Amount></ram:ItemQuantity></ram:TransportLogisticsPackage>"),
    );
    let decoded = read(&xml);
    assert_eq!(decoded.permit.valid_until, None);
    let unknown: Vec<&Finding> = decoded
        .findings
        .iter()
        .filter(|f| f.rule == "value-element-unknown")
        .collect();
    assert_eq!(unknown.len(), 2, "{:?}", decoded.findings);
    assert_eq!(unknown[0].severity, Severity::Warning);
    assert_eq!(unknown[0].field, "valid_until");
    assert_eq!(unknown[0].permit_box.as_deref(), Some("2"));
    assert!(
        unknown[0].path.ends_with("/EndDateTime/When"),
        "{}",
        unknown[0].path
    );
    assert!(
        unknown[0].message.contains("<When>"),
        "{}",
        unknown[0].message
    );
    assert_eq!(unknown[1].field, "blocks[0].quantity");
    assert_eq!(unknown[1].permit_box.as_deref(), Some("11"));
}
