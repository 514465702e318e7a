//! Where a finding points: the model field (JSON form), the element path in the standard XML
//! (toolkit v2) and the box of the permit form.
//!
//! Every element path used by validation is built here from one table of XML parents
//! ([`Parent`]) and one table of elements ([`Element`] constants), so that a change of the XML
//! mapping is made in one place. JSON field paths index blocks from 0 (as JSON arrays do); XML
//! paths index `IncludedSupplyChainConsignmentItem` from 1 (as XPath does): the second block is
//! `blocks[1]` and `IncludedSupplyChainConsignmentItem[2]`.

use crate::model::Block;

/// The root element of the CITES e-permit XML (toolkit v2).
const ROOT: &str = "/CITESEPermit";

/// The XML parent an element lives under.
#[derive(Clone, Copy, Debug)]
pub(super) enum Parent {
    /// `HeaderExchangedDocument`.
    Header,
    /// The issuing Management Authority (box 6).
    Issuer,
    /// `SpecifiedSupplyChainConsignment`.
    Consignment,
    /// The importer (box 3).
    Consignee,
    /// The exporter (box 4).
    Consignor,
    /// One block: `IncludedSupplyChainConsignmentItem[n]`.
    Item,
    /// The block's trade line item (appendix, source).
    TradeLine,
    /// The block's product (names, term, description).
    Product,
    /// The block's regulatory procedure (quota, acquisition, operation).
    Procedure,
}

impl Parent {
    /// The parent's path below the root; for `Item`, `TradeLine`, `Product` and `Procedure`,
    /// below the block element (use them with [`Element::in_block`] only).
    fn path(self) -> &'static str {
        match self {
            Parent::Header => "HeaderExchangedDocument",
            Parent::Issuer => {
                "HeaderExchangedDocument/FirstSignatoryDocumentAuthentication/ProviderTradeParty"
            }
            Parent::Consignment => CONSIGNMENT,
            Parent::Consignee => "SpecifiedSupplyChainConsignment/ConsigneeTradeParty",
            Parent::Consignor => "SpecifiedSupplyChainConsignment/ConsignorTradeParty",
            Parent::Item => "",
            Parent::TradeLine => "IncludedSupplyChainTradeLineItem",
            Parent::Product => "IncludedSupplyChainTradeLineItem/SpecifiedTradeProduct",
            Parent::Procedure => "ApplicableCrossBorderRegulatoryProcedure",
        }
    }
}

const CONSIGNMENT: &str = "SpecifiedSupplyChainConsignment";
const ITEM: &str = "IncludedSupplyChainConsignmentItem";

/// One element of the permit: its model field, its XML element and its box.
#[derive(Clone, Copy, Debug)]
pub(super) struct Element {
    /// The model field; for block elements, relative to the block (`quantity.unit`).
    pub field: &'static str,
    /// The XML parent.
    pub parent: Parent,
    /// The XML element (or `Element/@attribute`) below the parent; empty for the parent itself.
    pub xml: &'static str,
    /// The box of the permit form.
    pub permit_box: &'static str,
}

/// A resolved place in a given permit, ready to become a finding.
#[derive(Clone, Debug)]
pub(super) struct Loc {
    /// The model field (JSON form path).
    pub field: String,
    /// The element path in the XML.
    pub path: String,
    /// The box.
    pub permit_box: &'static str,
    /// The block's position, for block elements.
    pub block: Option<usize>,
    /// How the place is named in messages: `Box 11 (block B)`.
    pub label: String,
}

impl Element {
    /// The element of the permit (not of a block).
    pub fn at(self) -> Loc {
        Loc {
            field: self.field.to_owned(),
            path: join(&[ROOT, self.parent.path(), self.xml]),
            permit_box: self.permit_box,
            block: None,
            label: format!("Box {}", self.permit_box),
        }
    }

    /// The element in the block at `index` (0-based position in `permit.blocks`).
    pub fn in_block(self, index: usize, block: &Block) -> Loc {
        let item = format!("{ITEM}[{}]", index + 1);
        let field = if self.field.is_empty() {
            format!("blocks[{index}]")
        } else {
            format!("blocks[{index}].{}", self.field)
        };
        Loc {
            field,
            path: join(&[ROOT, CONSIGNMENT, &item, self.parent.path(), self.xml]),
            permit_box: self.permit_box,
            block: Some(index),
            label: format!("Box {} ({})", self.permit_box, block_name(index, block)),
        }
    }
}

/// How a block is named in messages: `block B`, or `block 2` when it has no letter.
pub(super) fn block_name(index: usize, block: &Block) -> String {
    let id = block.id.trim();
    if id.is_empty() {
        format!("block {}", index + 1)
    } else {
        format!("block {id}")
    }
}

fn join(parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|part| !part.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("/")
}

macro_rules! elements {
    ($( $(#[$meta:meta])* $name:ident = $field:literal, $parent:ident, $xml:literal, $permit_box:literal; )+) => {
        $( $(#[$meta])* pub(super) const $name: Element = Element {
            field: $field,
            parent: Parent::$parent,
            xml: $xml,
            permit_box: $permit_box,
        }; )+
    };
}

elements! {
    DOCUMENT_TYPE = "document_type", Header, "TypeCode", "1";
    /// Toolkit v2 has no element of its own for the sub-type; the WCO view carries it as the
    /// LPCO type (D013). Pointed at the type code until the XML mapping gives it one.
    DOCUMENT_SUBTYPE = "document_subtype", Header, "TypeCode", "1";
    PERMIT_NUMBER = "permit_number", Header, "ID", "1";
    VALID_FROM = "valid_from", Header, "EffectiveSpecifiedPeriod/StartDateTime", "2";
    VALID_UNTIL = "valid_until", Header, "EffectiveSpecifiedPeriod/EndDateTime", "2";
    IMPORTER_NAME = "importer.name", Consignee, "Name", "3";
    IMPORTER_COUNTRY = "importer.address.country", Consignee, "PostalTradeAddress/CountryID", "3a";
    EXPORTER_NAME = "exporter.name", Consignor, "Name", "4";
    EXPORTER_COUNTRY = "exporter.address.country", Consignor, "PostalTradeAddress/CountryID", "4";
    PURPOSE = "purpose", Header, "PurposeCode", "5a";
    ISSUER_NAME = "issuing_authority.name", Issuer, "Name", "6";
    ISSUER_COUNTRY = "issuing_authority.address.country", Issuer, "PostalTradeAddress/CountryID", "6";
    ISSUE_DATE = "issue_date", Header, "IssueDateTime", "13";
    CONSIGNMENT_CERTIFIER_COUNTRY = "export_endorsement.certifier.address.country", Consignment,
        "ExaminationTransportEvent/CertifyingTradeParty/PostalTradeAddress/CountryID", "14";
    CONSIGNMENT_ENDORSED_UNIT = "export_endorsement.quantity.unit", Consignment,
        "ExaminationTransportEvent/UnitQuantity/@unitCode", "14";
    /// The list of blocks itself. The block letters head boxes 7 to 12b on the form, so block
    /// findings that belong to no single box are given box 7.
    BLOCKS = "blocks", Consignment, "IncludedSupplyChainConsignmentItem", "7";
    BLOCK_ID = "id", Item, "ID", "7";
    SCIENTIFIC_NAME = "scientific_name", Product, "ScientificName", "7";
    TERM = "term", Product, "TypeCode", "9";
    APPENDIX = "appendix", TradeLine, "TypeCode", "10";
    SOURCE = "source", TradeLine, "TypeExtensionCode", "10";
    /// An extension element (docs/standard-format.md): toolkit v2 has no regional Annex.
    EU_ANNEX = "eu_annex", TradeLine, "RegionalAnnexCode", "10";
    QUANTITY = "quantity", Item, "TransportLogisticsPackage/ItemQuantity", "11";
    QUANTITY_VALUE = "quantity.value", Item, "TransportLogisticsPackage/ItemQuantity", "11";
    QUANTITY_UNIT = "quantity.unit", Item, "TransportLogisticsPackage/ItemQuantity/@unitCode", "11";
    QUOTA_USED = "quota.used_to_date", Procedure, "UsedToDateQuotaQuantity", "11a";
    QUOTA_USED_UNIT = "quota.used_to_date.unit", Procedure, "UsedToDateQuotaQuantity/@unitCode", "11a";
    QUOTA_ANNUAL_UNIT = "quota.annual.unit", Procedure, "AnnualQuotaQuantity/@unitCode", "11a";
    ORIGIN_COUNTRY = "origin.country", Item, "OriginTradeCountry/ID", "12";
    /// Boxes 12 and 12a share `AssociatedReferencedDocument`; the document type (UN/EDIFACT 1001)
    /// tells them apart, and partners get it wrong, so no index or predicate is given.
    ORIGIN_PERMIT = "origin.permit_number", Item, "AssociatedReferencedDocument/ID", "12";
    LAST_REEXPORT_COUNTRY = "last_reexport.country", Item, "ExportTradeCountry/ID", "12a";
    LAST_REEXPORT_CERTIFICATE = "last_reexport.permit_number", Item, "AssociatedReferencedDocument/ID", "12a";
    OPERATION_NUMBER = "operation_number", Procedure, "PreviousReferencedDocument/ID", "12b";
    ACQUISITION_DATE = "acquisition_date", Procedure, "AcquisitionDateTime", "12b";
    ENDORSED_QUANTITY = "endorsement.quantity", Item, "ExaminationTransportEvent/UnitQuantity", "14";
    ENDORSED_UNIT = "endorsement.quantity.unit", Item, "ExaminationTransportEvent/UnitQuantity/@unitCode", "14";
    BLOCK_CERTIFIER_COUNTRY = "endorsement.certifier.address.country", Item,
        "ExaminationTransportEvent/CertifyingTradeParty/PostalTradeAddress/CountryID", "14";
}

/// The boxes of the form in their printed order; findings are sorted by it.
const BOX_ORDER: &[&str] = &[
    "1", "2", "3", "3a", "4", "5", "5a", "5b", "6", "7", "8", "9", "10", "11", "11a", "12", "12a",
    "12b", "13", "14", "15",
];

/// The position of a box in the printed order; unknown or empty boxes sort last.
pub(super) fn box_rank(permit_box: &str) -> usize {
    BOX_ORDER
        .iter()
        .position(|known| *known == permit_box)
        .unwrap_or(BOX_ORDER.len())
}
