//! The canonical writer of the CITES e-permit XML (toolkit v2).
//!
//! The writer appends straight to a `String`: no DOM, no intermediate allocation. Containers are
//! opened lazily (an element is only written once its first child is), so an aggregate whose
//! every value is absent disappears without the writer having to test for emptiness first.
//! Same permit in, same bytes out: element order is fixed, attributes are fixed, indentation is
//! two spaces, and no clock or locale is consulted.
//!
//! The same code writes toolkit v1 (`CBFShip`) for a partner that asks for it: the element
//! names v1 spells otherwise are chosen by [`Version`], and what v1 has no element for is left
//! out (see [`super::v1_losses`]).

use super::{Version, PERMIT_NAMESPACE, RABIE_NAMESPACE, V1_NAMESPACE};
use crate::codes::{CodeList, Coded, Unit};
use crate::model::{
    Address, CountryReference, DocumentReference, Examination, Location, Party, Permit, Quantity,
    Timestamp,
};
use std::fmt::Write as _;

/// The deepest nesting the writer ever produces is 8; leave room.
const MAX_DEPTH: usize = 16;
const INDENT: &str = "                                ";

/// UN/EDIFACT 1001 "certificate of origin": the origin permit of box 12.
pub(crate) const ORIGIN_DOCUMENT: &str = "861";
/// UN/EDIFACT 1001 "export licence": the last re-export certificate of box 12a.
pub(crate) const REEXPORT_DOCUMENT: &str = "811";

struct Writer<'o> {
    out: &'o mut String,
    names: [&'static str; MAX_DEPTH],
    /// How many of the open elements have had their start tag written.
    written: usize,
    depth: usize,
    format: Version,
}

impl<'o> Writer<'o> {
    fn indent(&mut self, depth: usize) {
        let mut spaces = depth * 2;
        while spaces > 0 {
            let chunk = spaces.min(INDENT.len());
            self.out.push_str(&INDENT[..chunk]);
            spaces -= chunk;
        }
    }

    /// Writes the start tags of the open containers that have not been written yet.
    fn flush(&mut self) {
        while self.written < self.depth {
            let name = self.names[self.written];
            self.indent(self.written);
            self.out.push('<');
            self.out.push_str(name);
            self.out.push_str(">\n");
            self.written += 1;
        }
    }

    fn open(&mut self, name: &'static str) {
        // The writer's own structure never exceeds MAX_DEPTH; the guard keeps a future mistake
        // from indexing out of bounds.
        if self.depth < MAX_DEPTH {
            self.names[self.depth] = name;
        }
        self.depth += 1;
    }

    fn close(&mut self) {
        self.depth -= 1;
        if self.written > self.depth {
            self.written = self.depth;
            self.indent(self.depth);
            self.out.push_str("</");
            self.out.push_str(self.names[self.depth]);
            self.out.push_str(">\n");
        }
    }

    fn start_leaf(&mut self, name: &str) {
        self.flush();
        self.indent(self.depth);
        self.out.push('<');
        self.out.push_str(name);
    }

    fn end_leaf(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
    }

    /// A text element; nothing at all when the value is absent or empty.
    fn text(&mut self, name: &str, value: Option<&str>) {
        let Some(value) = value.filter(|value| !value.is_empty()) else {
            return;
        };
        self.start_leaf(name);
        self.out.push('>');
        escape_text(self.out, value);
        self.end_leaf(name);
    }

    fn text_with_attrs(&mut self, name: &str, attrs: &str, value: &str) {
        if value.is_empty() {
            return;
        }
        self.start_leaf(name);
        self.out.push_str(attrs);
        self.out.push('>');
        escape_text(self.out, value);
        self.end_leaf(name);
    }

    fn code<T: CodeList>(&mut self, name: &str, value: Option<&Coded<T>>) {
        self.text(name, value.map(Coded::as_str));
    }

    fn timestamp(&mut self, name: &str, value: Option<&Timestamp>) {
        if let Some(value) = value {
            self.start_leaf(name);
            self.out.push('>');
            // Writing to a String cannot fail.
            let _ = write!(self.out, "{value}");
            self.end_leaf(name);
        }
    }

    fn boolean(&mut self, name: &str, value: Option<bool>) {
        self.text(
            name,
            value.map(|value| if value { "true" } else { "false" }),
        );
    }

    fn quantity(&mut self, name: &str, value: Option<&Quantity>) {
        let Some(quantity) = value else { return };
        self.start_leaf(name);
        if let Some(unit) = &quantity.unit {
            unit_attribute(self.out, unit);
        }
        self.out.push('>');
        let _ = write!(self.out, "{}", quantity.value);
        self.end_leaf(name);
    }

    fn location(&mut self, name: &'static str, value: Option<&Location>) {
        let Some(location) = value else { return };
        self.open(name);
        self.text("ram:ID", location.id.as_deref());
        self.text("ram:Name", location.name.as_deref());
        self.close();
    }

    fn party(&mut self, name: &'static str, value: Option<&Party>) {
        let Some(party) = value else { return };
        self.open(name);
        self.party_fields(party);
        self.close();
    }

    fn party_fields(&mut self, party: &Party) {
        self.text("ram:ID", party.id.as_deref());
        self.text("ram:Name", party.name.as_deref());
        self.address(&party.address);
    }

    fn address(&mut self, address: &Address) {
        self.open("ram:PostalTradeAddress");
        self.text("ram:PostcodeCode", address.postcode.as_deref());
        self.text("ram:PostOfficeBox", address.post_office_box.as_deref());
        for street in &address.street {
            self.text("ram:StreetName", Some(street));
        }
        self.text("ram:CityName", address.city.as_deref());
        match self.format {
            Version::V2 => {
                self.code("ram:CountryID", address.country.as_ref());
                self.text("ram:CountryName", address.country_name.as_deref());
                self.text("ram:CountrySubDivisionName", address.subdivision.as_deref());
            }
            Version::V1 => {
                self.open("ram:CountryIdentificationTradeCountry");
                self.code("ram:ID", address.country.as_ref());
                self.text("ram:Name", address.country_name.as_deref());
                self.open("ram:SubordinateTradeCountrySubDivision");
                self.text("ram:Name", address.subdivision.as_deref());
                self.close();
                self.close();
            }
        }
        self.close();
    }

    fn examination(&mut self, value: Option<&Examination>) {
        let Some(examination) = value else { return };
        self.open("ram:ExaminationTransportEvent");
        self.timestamp("ram:ActualOccurrenceDateTime", examination.date.as_ref());
        let quantity = match self.format {
            Version::V2 => "ram:UnitQuantity",
            Version::V1 => "ram:InspectedUnitQuantity",
        };
        self.quantity(quantity, examination.quantity.as_ref());
        self.location("ram:OccurrenceLogisticsLocation", examination.port.as_ref());
        self.party("ram:CertifyingTradeParty", examination.certifier.as_ref());
        self.close();
    }

    /// A referenced document: issue date, EDIFACT 1001 type, number.
    fn document(
        &mut self,
        name: &'static str,
        date: Option<&Timestamp>,
        type_code: Option<&str>,
        id: Option<&str>,
    ) {
        self.open(name);
        self.timestamp("ram:IssueDateTime", date);
        if let Some(type_code) = type_code {
            self.text_with_attrs(
                "ram:TypeCode",
                " listID=\"1001\" listAgencyID=\"6\"",
                type_code,
            );
        }
        self.text("ram:ID", id);
        self.close();
    }

    fn trade_country(&mut self, name: &'static str, value: Option<&CountryReference>) {
        let Some(reference) = value else { return };
        self.open(name);
        self.code("ram:ID", reference.country.as_ref());
        self.text("ram:Name", reference.country_name.as_deref());
        self.close();
    }

    fn country_document(&mut self, value: Option<&CountryReference>, type_code: &str) {
        let Some(reference) = value else { return };
        if reference.permit_number.is_none() && reference.permit_date.is_none() {
            return;
        }
        self.document(
            "ram:AssociatedReferencedDocument",
            reference.permit_date.as_ref(),
            Some(type_code),
            reference.permit_number.as_deref(),
        );
    }
}

/// Writes `permit` as the canonical XML of `format`, appending to `out`.
pub(super) fn write(permit: &Permit, format: Version, out: &mut String) {
    let (root, namespace) = match format {
        Version::V2 => ("rsm:CITESEPermit", PERMIT_NAMESPACE),
        Version::V1 => ("rsm:CBFShip", V1_NAMESPACE),
    };
    out.reserve(2048 + permit.blocks.len() * 2048);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push('<');
    out.push_str(root);
    out.push_str(" xmlns:rsm=\"");
    out.push_str(namespace);
    out.push_str("\" xmlns:ram=\"");
    out.push_str(RABIE_NAMESPACE);
    out.push_str("\">\n");
    out.push_str(CONTEXT);

    let mut w = Writer {
        out,
        names: [""; MAX_DEPTH],
        written: 1,
        depth: 1,
        format,
    };
    w.names[0] = root;
    header(&mut w, permit);
    consignment(&mut w, permit);
    w.out.push_str("</");
    w.out.push_str(root);
    w.out.push_str(">\n");
}

const CONTEXT: &str = "  <rsm:SpecifiedExchangedDocumentContext>
    <ram:BusinessProcessSpecifiedDocumentContextParameter>
      <ram:ID>1</ram:ID>
      <ram:Value>CITES PERMITTING</ram:Value>
      <ram:SpecifiedDocumentVersion>
        <ram:ID>1</ram:ID>
      </ram:SpecifiedDocumentVersion>
    </ram:BusinessProcessSpecifiedDocumentContextParameter>
    <ram:BIMSpecifiedDocumentContextParameter>
      <ram:ID>09A</ram:ID>
    </ram:BIMSpecifiedDocumentContextParameter>
  </rsm:SpecifiedExchangedDocumentContext>
";

fn header(w: &mut Writer<'_>, permit: &Permit) {
    w.open("rsm:HeaderExchangedDocument");
    w.text("ram:ID", Some(&permit.permit_number));
    w.text("ram:Name", permit.document_name.as_deref());
    w.code("ram:TypeCode", permit.document_type.as_ref());
    // Not in the v2 schema: the sub-type of an "other" certificate (see docs/standard-format.md).
    w.text("ram:SubtypeCode", permit.document_subtype.as_deref());
    w.timestamp("ram:IssueDateTime", permit.issue_date.as_ref());
    w.boolean("ram:CopyIndicator", permit.copy);
    w.text("ram:Purpose", permit.purpose_text.as_deref());
    w.code("ram:PurposeCode", permit.purpose.as_ref());
    for condition in &permit.special_conditions {
        w.text("ram:Information", Some(condition));
    }
    for reference in &permit.references {
        reference_document(w, reference);
    }
    w.open("ram:EffectiveSpecifiedPeriod");
    w.timestamp("ram:StartDateTime", permit.valid_from.as_ref());
    w.timestamp("ram:EndDateTime", permit.valid_until.as_ref());
    w.close();
    w.location("ram:IssueLogisticsLocation", permit.issue_place.as_ref());

    if permit.security_stamp.is_some() || permit.issuing_authority.is_some() {
        w.open("ram:FirstSignatoryDocumentAuthentication");
        w.text("ram:TypeCode", Some("A"));
        w.text("ram:ID", permit.security_stamp.as_deref());
        w.party("ram:ProviderTradeParty", permit.issuing_authority.as_ref());
        w.close();
    }
    if let Some(signatory) = &permit.signatory {
        let date = signatory.date.is_some() && w.format == Version::V2;
        if signatory.name.is_some() || date || signatory.statement.is_some() {
            w.open("ram:ThirdSignatoryDocumentAuthentication");
            w.text("ram:TypeCode", Some("C"));
            // Toolkit v1's authentications have no date: lost in v1.
            if w.format == Version::V2 {
                w.timestamp("ram:ActualDateTime", signatory.date.as_ref());
            }
            w.text("ram:Statement", signatory.statement.as_deref());
            w.open("ram:ProviderTradeParty");
            w.open("ram:SpecifiedAuthoritativeSignatoryPerson");
            w.text("ram:Name", signatory.name.as_deref());
            w.close();
            w.close();
            w.close();
        }
    }
    w.close();
}

fn reference_document(w: &mut Writer<'_>, reference: &DocumentReference) {
    w.document(
        "ram:ReferenceReferencedDocument",
        reference.issue_date.as_ref(),
        reference
            .type_code
            .as_deref()
            .filter(|code| !code.is_empty()),
        reference.id.as_deref(),
    );
}

fn consignment(w: &mut Writer<'_>, permit: &Permit) {
    w.open("rsm:SpecifiedSupplyChainConsignment");
    w.party("ram:ConsignorTradeParty", permit.exporter.as_ref());
    w.party("ram:ConsigneeTradeParty", permit.importer.as_ref());
    if let Some(transport) = permit.transport_document.as_deref() {
        w.open("ram:TransportContractReferencedDocument");
        w.text("ram:ID", Some(transport));
        w.close();
    }
    w.examination(permit.export_endorsement.as_ref());

    for block in &permit.blocks {
        w.open("ram:IncludedSupplyChainConsignmentItem");
        w.text("ram:ID", Some(&block.id));
        // Toolkit v1's items have no shipping marks (EPIX's v1 `markings` is always empty):
        // lost in v1.
        if w.format == Version::V2 {
            w.open("ram:PhysicalLogisticsShippingMarks");
            for mark in &block.marks {
                w.text("ram:Marking", Some(mark));
            }
            w.close();
        }
        w.trade_country("ram:OriginTradeCountry", block.origin.as_ref());
        w.trade_country("ram:ExportTradeCountry", block.last_reexport.as_ref());
        w.country_document(block.origin.as_ref(), ORIGIN_DOCUMENT);
        w.country_document(block.last_reexport.as_ref(), REEXPORT_DOCUMENT);
        if block.quantity.is_some() {
            w.open("ram:TransportLogisticsPackage");
            w.quantity("ram:ItemQuantity", block.quantity.as_ref());
            w.close();
        }
        w.open("ram:IncludedSupplyChainTradeLineItem");
        w.code("ram:TypeCode", block.appendix.as_ref());
        w.code("ram:TypeExtensionCode", block.source.as_ref());
        if let Some(annex) = block.eu_annex.as_ref() {
            // Toolkit v2 has no element for a regional Annex: our documented extension, in its
            // own namespace (docs/standard-format.md, "Extensions").
            w.text_with_attrs(
                "ext:RegionalAnnexCode",
                concat!(" xmlns:ext=\"", "urn:ecites-exchange:extension:1", "\""),
                annex.as_str(),
            );
        }
        w.open("ram:SpecifiedTradeProduct");
        w.text("ram:Description", block.description.as_deref());
        w.code("ram:TypeCode", block.term.as_ref());
        w.text("ram:CommonName", block.common_name.as_deref());
        w.text("ram:ScientificName", block.scientific_name.as_deref());
        w.close();
        w.close();
        w.examination(block.endorsement.as_ref());
        w.open(match w.format {
            Version::V2 => "ram:ApplicableCrossBorderRegulatoryProcedure",
            Version::V1 => "ram:ApplicableCrossBorderGovernmentProcedure",
        });
        if let Some(quota) = &block.quota {
            w.quantity("ram:UsedToDateQuotaQuantity", quota.used_to_date.as_ref());
            w.quantity("ram:AnnualQuotaQuantity", quota.annual.as_ref());
        }
        w.timestamp("ram:AcquisitionDateTime", block.acquisition_date.as_ref());
        if let Some(operation) = block.operation_number.as_deref() {
            w.open("ram:PreviousReferencedDocument");
            w.text("ram:ID", Some(operation));
            w.close();
        }
        w.close();
        w.close();
    }
    w.close();
}

fn unit_attribute(out: &mut String, unit: &Coded<Unit>) {
    let code = unit.as_str();
    if code.is_empty() {
        return;
    }
    out.push_str(" unitCode=\"");
    escape_attribute(out, code);
    out.push('"');
}

/// True for characters XML 1.0 cannot carry at all, not even as a character reference.
fn is_forbidden(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
}

/// The replacement for characters XML 1.0 cannot carry (U+FFFD, visibly "something was here").
const REPLACEMENT: &str = "\u{fffd}";

fn needs_text_escape(b: u8) -> bool {
    matches!(b, b'&' | b'<' | b'>' | b'\r') || (b < 0x20 && b != b'\t' && b != b'\n') || b == 0xEF
}

/// Escapes character data: `&`, `<` and `>` as entities, carriage return as `&#13;` (a literal
/// one would be turned into a line feed by every XML parser), and the characters XML 1.0
/// forbids replaced by U+FFFD.
pub(crate) fn escape_text(out: &mut String, text: &str) {
    // 0xEF starts the UTF-8 encoding of U+FFFE and U+FFFF (and other U+Fxxx characters, which
    // the slow path then copies unchanged).
    if !text.bytes().any(needs_text_escape) {
        out.push_str(text);
        return;
    }
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c if is_forbidden(c) => out.push_str(REPLACEMENT),
            c => out.push(c),
        }
    }
}

/// Escapes an attribute value: the five predefined entities, and tab, line feed and carriage
/// return as character references (attribute-value normalisation would turn them into spaces).
pub(crate) fn escape_attribute(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if is_forbidden(c) => out.push_str(REPLACEMENT),
            c => out.push(c),
        }
    }
}
