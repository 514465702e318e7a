//! The tolerant, bounded, single-pass reader of the CITES e-permit XML (toolkit v2, and toolkit
//! v1's `CBFShip`).
//!
//! Toolkit v1 is read by the same pass into the same model: the root `CBFShip` (in
//! `urn:un:unece:uncefact:data:draft:CBFShip:1` or none) takes `CITESEPermit`'s place, and the
//! three v1 spellings of v2 values are further names of the same slots (EPIX's
//! `lib/modules/cites/v1/permit.rb` and `permit_line_item.rb`): an address's
//! `CountryIdentificationTradeCountry/{ID, Name, SubordinateTradeCountrySubDivision/Name}`,
//! box 14's `InspectedUnitQuantity` and the block's `ApplicableCrossBorderGovernmentProcedure`.
//! Either spelling is accepted under either root (readers match local names); both spellings of
//! one value in one aggregate are refused as ambiguous.
//!
//! One pass over quick-xml's borrowed events. Elements are matched by local name only, because
//! real messages use any prefixes (the EPIX service puts the root in no namespace at all and its
//! children in `urn:`/`urn1:`). Each open element is one small frame on a stack: its name as an
//! enum and its meaning (a [`Slot`]) given its parent's meaning, so `ID` under the header is the
//! permit number while `ID` under a party is the party's identifier. Text is borrowed from the
//! input and only copied for the values the permit keeps.
//!
//! Safety: the size limit is checked before parsing, any DOCTYPE is refused (no entity can be
//! declared, so none can expand), only the five predefined entities and character references
//! are resolved, and nesting is bounded.

use super::write::{ORIGIN_DOCUMENT, REEXPORT_DOCUMENT};
use super::ReadLimits;
use crate::codes::{Coded, Unit};
use crate::model::{
    Block, CountryReference, DocumentReference, Examination, Location, Party, Permit, Quantity,
    Timestamp,
};
use crate::{Decoded, Error, Finding, Severity, Tier};
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::Reader;
use rust_decimal::Decimal;
use std::borrow::Cow;
use std::str::FromStr;

/// Element local names the reader knows; anything else is [`Name::Other`].
#[allow(clippy::enum_variant_names)] // The variants spell the XML names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Name {
    Other,
    CitesEPermit,
    SpecifiedExchangedDocumentContext,
    HeaderExchangedDocument,
    SpecifiedSupplyChainConsignment,
    Id,
    Name,
    TypeCode,
    SubtypeCode,
    IssueDateTime,
    CopyIndicator,
    Purpose,
    PurposeCode,
    Information,
    ReferenceReferencedDocument,
    EffectiveSpecifiedPeriod,
    StartDateTime,
    EndDateTime,
    IssueLogisticsLocation,
    FirstSignatoryDocumentAuthentication,
    ThirdSignatoryDocumentAuthentication,
    ActualDateTime,
    Statement,
    ProviderTradeParty,
    SpecifiedAuthoritativeSignatoryPerson,
    PostalTradeAddress,
    PostcodeCode,
    PostOfficeBox,
    StreetName,
    CityName,
    CountryId,
    CountryName,
    CountrySubDivisionName,
    ConsignorTradeParty,
    ConsigneeTradeParty,
    TransportContractReferencedDocument,
    ExaminationTransportEvent,
    ActualOccurrenceDateTime,
    UnitQuantity,
    OccurrenceLogisticsLocation,
    CertifyingTradeParty,
    IncludedSupplyChainConsignmentItem,
    PhysicalLogisticsShippingMarks,
    Marking,
    OriginTradeCountry,
    ExportTradeCountry,
    AssociatedReferencedDocument,
    TransportLogisticsPackage,
    ItemQuantity,
    IncludedSupplyChainTradeLineItem,
    TypeExtensionCode,
    SpecifiedTradeProduct,
    Description,
    CommonName,
    ScientificName,
    ApplicableCrossBorderRegulatoryProcedure,
    UsedToDateQuotaQuantity,
    AnnualQuotaQuantity,
    AcquisitionDateTime,
    PreviousReferencedDocument,
    DateTimeString,
    RegionalAnnexCode,
    CbfShip,
    CountryIdentificationTradeCountry,
    SubordinateTradeCountrySubDivision,
    InspectedUnitQuantity,
    ApplicableCrossBorderGovernmentProcedure,
}

/// Every known name with its spelling; the lookup and the finding paths share this table.
const NAMES: &[(Name, &str)] = &[
    (Name::CitesEPermit, "CITESEPermit"),
    (
        Name::SpecifiedExchangedDocumentContext,
        "SpecifiedExchangedDocumentContext",
    ),
    (Name::HeaderExchangedDocument, "HeaderExchangedDocument"),
    (
        Name::SpecifiedSupplyChainConsignment,
        "SpecifiedSupplyChainConsignment",
    ),
    (Name::Id, "ID"),
    (Name::Name, "Name"),
    (Name::TypeCode, "TypeCode"),
    (Name::SubtypeCode, "SubtypeCode"),
    (Name::IssueDateTime, "IssueDateTime"),
    (Name::CopyIndicator, "CopyIndicator"),
    (Name::Purpose, "Purpose"),
    (Name::PurposeCode, "PurposeCode"),
    (Name::Information, "Information"),
    (
        Name::ReferenceReferencedDocument,
        "ReferenceReferencedDocument",
    ),
    (Name::EffectiveSpecifiedPeriod, "EffectiveSpecifiedPeriod"),
    (Name::StartDateTime, "StartDateTime"),
    (Name::EndDateTime, "EndDateTime"),
    (Name::IssueLogisticsLocation, "IssueLogisticsLocation"),
    (
        Name::FirstSignatoryDocumentAuthentication,
        "FirstSignatoryDocumentAuthentication",
    ),
    (
        Name::ThirdSignatoryDocumentAuthentication,
        "ThirdSignatoryDocumentAuthentication",
    ),
    (Name::ActualDateTime, "ActualDateTime"),
    (Name::Statement, "Statement"),
    (Name::ProviderTradeParty, "ProviderTradeParty"),
    (
        Name::SpecifiedAuthoritativeSignatoryPerson,
        "SpecifiedAuthoritativeSignatoryPerson",
    ),
    (Name::PostalTradeAddress, "PostalTradeAddress"),
    (Name::PostcodeCode, "PostcodeCode"),
    (Name::PostOfficeBox, "PostOfficeBox"),
    (Name::StreetName, "StreetName"),
    (Name::CityName, "CityName"),
    (Name::CountryId, "CountryID"),
    (Name::CountryName, "CountryName"),
    (Name::CountrySubDivisionName, "CountrySubDivisionName"),
    (Name::ConsignorTradeParty, "ConsignorTradeParty"),
    (Name::ConsigneeTradeParty, "ConsigneeTradeParty"),
    (
        Name::TransportContractReferencedDocument,
        "TransportContractReferencedDocument",
    ),
    (Name::ExaminationTransportEvent, "ExaminationTransportEvent"),
    (Name::ActualOccurrenceDateTime, "ActualOccurrenceDateTime"),
    (Name::UnitQuantity, "UnitQuantity"),
    (
        Name::OccurrenceLogisticsLocation,
        "OccurrenceLogisticsLocation",
    ),
    (Name::CertifyingTradeParty, "CertifyingTradeParty"),
    (
        Name::IncludedSupplyChainConsignmentItem,
        "IncludedSupplyChainConsignmentItem",
    ),
    (
        Name::PhysicalLogisticsShippingMarks,
        "PhysicalLogisticsShippingMarks",
    ),
    (Name::Marking, "Marking"),
    (Name::OriginTradeCountry, "OriginTradeCountry"),
    (Name::ExportTradeCountry, "ExportTradeCountry"),
    (
        Name::AssociatedReferencedDocument,
        "AssociatedReferencedDocument",
    ),
    (Name::TransportLogisticsPackage, "TransportLogisticsPackage"),
    (Name::ItemQuantity, "ItemQuantity"),
    (
        Name::IncludedSupplyChainTradeLineItem,
        "IncludedSupplyChainTradeLineItem",
    ),
    (Name::TypeExtensionCode, "TypeExtensionCode"),
    (Name::SpecifiedTradeProduct, "SpecifiedTradeProduct"),
    (Name::Description, "Description"),
    (Name::CommonName, "CommonName"),
    (Name::ScientificName, "ScientificName"),
    (
        Name::ApplicableCrossBorderRegulatoryProcedure,
        "ApplicableCrossBorderRegulatoryProcedure",
    ),
    (Name::UsedToDateQuotaQuantity, "UsedToDateQuotaQuantity"),
    (Name::AnnualQuotaQuantity, "AnnualQuotaQuantity"),
    (Name::AcquisitionDateTime, "AcquisitionDateTime"),
    (
        Name::PreviousReferencedDocument,
        "PreviousReferencedDocument",
    ),
    (Name::DateTimeString, "DateTimeString"),
    (Name::RegionalAnnexCode, "RegionalAnnexCode"),
    // Toolkit v1 (`CBFShip`) names for what v2 spells otherwise.
    (Name::CbfShip, "CBFShip"),
    (
        Name::CountryIdentificationTradeCountry,
        "CountryIdentificationTradeCountry",
    ),
    (
        Name::SubordinateTradeCountrySubDivision,
        "SubordinateTradeCountrySubDivision",
    ),
    (Name::InspectedUnitQuantity, "InspectedUnitQuantity"),
    (
        Name::ApplicableCrossBorderGovernmentProcedure,
        "ApplicableCrossBorderGovernmentProcedure",
    ),
];

impl Name {
    fn of(local: &[u8]) -> Name {
        // Dispatch on the length first, then compare fixed-size arrays (inline word compares,
        // no memcmp call): an element costs one or two comparisons.
        match local.len() {
            2 => match <&[u8; 2]>::try_from(local) {
                Ok(b"ID") => Name::Id,
                _ => Name::Other,
            },
            4 => match <&[u8; 4]>::try_from(local) {
                Ok(b"Name") => Name::Name,
                _ => Name::Other,
            },
            7 => match <&[u8; 7]>::try_from(local) {
                Ok(b"CBFShip") => Name::CbfShip,
                Ok(b"Purpose") => Name::Purpose,
                Ok(b"Marking") => Name::Marking,
                _ => Name::Other,
            },
            8 => match <&[u8; 8]>::try_from(local) {
                Ok(b"TypeCode") => Name::TypeCode,
                Ok(b"CityName") => Name::CityName,
                _ => Name::Other,
            },
            9 => match <&[u8; 9]>::try_from(local) {
                Ok(b"Statement") => Name::Statement,
                Ok(b"CountryID") => Name::CountryId,
                _ => Name::Other,
            },
            10 => match <&[u8; 10]>::try_from(local) {
                Ok(b"StreetName") => Name::StreetName,
                Ok(b"CommonName") => Name::CommonName,
                _ => Name::Other,
            },
            11 => match <&[u8; 11]>::try_from(local) {
                Ok(b"SubtypeCode") => Name::SubtypeCode,
                Ok(b"PurposeCode") => Name::PurposeCode,
                Ok(b"Information") => Name::Information,
                Ok(b"EndDateTime") => Name::EndDateTime,
                Ok(b"CountryName") => Name::CountryName,
                Ok(b"Description") => Name::Description,
                _ => Name::Other,
            },
            12 => match <&[u8; 12]>::try_from(local) {
                Ok(b"CITESEPermit") => Name::CitesEPermit,
                Ok(b"PostcodeCode") => Name::PostcodeCode,
                Ok(b"UnitQuantity") => Name::UnitQuantity,
                Ok(b"ItemQuantity") => Name::ItemQuantity,
                _ => Name::Other,
            },
            13 => match <&[u8; 13]>::try_from(local) {
                Ok(b"IssueDateTime") => Name::IssueDateTime,
                Ok(b"CopyIndicator") => Name::CopyIndicator,
                Ok(b"StartDateTime") => Name::StartDateTime,
                Ok(b"PostOfficeBox") => Name::PostOfficeBox,
                _ => Name::Other,
            },
            14 => match <&[u8; 14]>::try_from(local) {
                Ok(b"DateTimeString") => Name::DateTimeString,
                Ok(b"ActualDateTime") => Name::ActualDateTime,
                Ok(b"ScientificName") => Name::ScientificName,
                _ => Name::Other,
            },
            17 => match <&[u8; 17]>::try_from(local) {
                Ok(b"TypeExtensionCode") => Name::TypeExtensionCode,
                Ok(b"RegionalAnnexCode") => Name::RegionalAnnexCode,
                _ => Name::Other,
            },
            18 => match <&[u8; 18]>::try_from(local) {
                Ok(b"ProviderTradeParty") => Name::ProviderTradeParty,
                Ok(b"PostalTradeAddress") => Name::PostalTradeAddress,
                Ok(b"OriginTradeCountry") => Name::OriginTradeCountry,
                Ok(b"ExportTradeCountry") => Name::ExportTradeCountry,
                _ => Name::Other,
            },
            19 => match <&[u8; 19]>::try_from(local) {
                Ok(b"ConsignorTradeParty") => Name::ConsignorTradeParty,
                Ok(b"ConsigneeTradeParty") => Name::ConsigneeTradeParty,
                Ok(b"AnnualQuotaQuantity") => Name::AnnualQuotaQuantity,
                Ok(b"AcquisitionDateTime") => Name::AcquisitionDateTime,
                _ => Name::Other,
            },
            20 => match <&[u8; 20]>::try_from(local) {
                Ok(b"CertifyingTradeParty") => Name::CertifyingTradeParty,
                _ => Name::Other,
            },
            21 => match <&[u8; 21]>::try_from(local) {
                Ok(b"SpecifiedTradeProduct") => Name::SpecifiedTradeProduct,
                Ok(b"InspectedUnitQuantity") => Name::InspectedUnitQuantity,
                _ => Name::Other,
            },
            22 => match <&[u8; 22]>::try_from(local) {
                Ok(b"IssueLogisticsLocation") => Name::IssueLogisticsLocation,
                Ok(b"CountrySubDivisionName") => Name::CountrySubDivisionName,
                _ => Name::Other,
            },
            23 => match <&[u8; 23]>::try_from(local) {
                Ok(b"HeaderExchangedDocument") => Name::HeaderExchangedDocument,
                Ok(b"UsedToDateQuotaQuantity") => Name::UsedToDateQuotaQuantity,
                _ => Name::Other,
            },
            24 => match <&[u8; 24]>::try_from(local) {
                Ok(b"EffectiveSpecifiedPeriod") => Name::EffectiveSpecifiedPeriod,
                Ok(b"ActualOccurrenceDateTime") => Name::ActualOccurrenceDateTime,
                _ => Name::Other,
            },
            25 => match <&[u8; 25]>::try_from(local) {
                Ok(b"ExaminationTransportEvent") => Name::ExaminationTransportEvent,
                Ok(b"TransportLogisticsPackage") => Name::TransportLogisticsPackage,
                _ => Name::Other,
            },
            26 => match <&[u8; 26]>::try_from(local) {
                Ok(b"PreviousReferencedDocument") => Name::PreviousReferencedDocument,
                _ => Name::Other,
            },
            27 => match <&[u8; 27]>::try_from(local) {
                Ok(b"ReferenceReferencedDocument") => Name::ReferenceReferencedDocument,
                Ok(b"OccurrenceLogisticsLocation") => Name::OccurrenceLogisticsLocation,
                _ => Name::Other,
            },
            28 => match <&[u8; 28]>::try_from(local) {
                Ok(b"AssociatedReferencedDocument") => Name::AssociatedReferencedDocument,
                _ => Name::Other,
            },
            30 => match <&[u8; 30]>::try_from(local) {
                Ok(b"PhysicalLogisticsShippingMarks") => Name::PhysicalLogisticsShippingMarks,
                _ => Name::Other,
            },
            31 => match <&[u8; 31]>::try_from(local) {
                Ok(b"SpecifiedSupplyChainConsignment") => Name::SpecifiedSupplyChainConsignment,
                _ => Name::Other,
            },
            32 => match <&[u8; 32]>::try_from(local) {
                Ok(b"IncludedSupplyChainTradeLineItem") => Name::IncludedSupplyChainTradeLineItem,
                _ => Name::Other,
            },
            33 => match <&[u8; 33]>::try_from(local) {
                Ok(b"SpecifiedExchangedDocumentContext") => Name::SpecifiedExchangedDocumentContext,
                Ok(b"CountryIdentificationTradeCountry") => Name::CountryIdentificationTradeCountry,
                _ => Name::Other,
            },
            34 => match <&[u8; 34]>::try_from(local) {
                Ok(b"IncludedSupplyChainConsignmentItem") => {
                    Name::IncludedSupplyChainConsignmentItem
                }
                Ok(b"SubordinateTradeCountrySubDivision") => {
                    Name::SubordinateTradeCountrySubDivision
                }
                _ => Name::Other,
            },
            35 => match <&[u8; 35]>::try_from(local) {
                Ok(b"TransportContractReferencedDocument") => {
                    Name::TransportContractReferencedDocument
                }
                _ => Name::Other,
            },
            36 => match <&[u8; 36]>::try_from(local) {
                Ok(b"FirstSignatoryDocumentAuthentication") => {
                    Name::FirstSignatoryDocumentAuthentication
                }
                Ok(b"ThirdSignatoryDocumentAuthentication") => {
                    Name::ThirdSignatoryDocumentAuthentication
                }
                _ => Name::Other,
            },
            37 => match <&[u8; 37]>::try_from(local) {
                Ok(b"SpecifiedAuthoritativeSignatoryPerson") => {
                    Name::SpecifiedAuthoritativeSignatoryPerson
                }
                _ => Name::Other,
            },
            40 => match <&[u8; 40]>::try_from(local) {
                Ok(b"ApplicableCrossBorderRegulatoryProcedure") => {
                    Name::ApplicableCrossBorderRegulatoryProcedure
                }
                Ok(b"ApplicableCrossBorderGovernmentProcedure") => {
                    Name::ApplicableCrossBorderGovernmentProcedure
                }
                _ => Name::Other,
            },
            _ => Name::Other,
        }
    }

    fn as_str(self) -> &'static str {
        NAMES
            .iter()
            .find(|(name, _)| *name == self)
            .map_or("*", |(_, text)| text)
    }
}

/// Declares [`Slot`] and [`SLOTS`], every variant in order, so the child table can be built
/// over all of them.
macro_rules! slots {
    ($($(#[$meta:meta])* $slot:ident,)*) => {
        /// What an element means, given where it is.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        enum Slot {
            $($(#[$meta])* $slot,)*
        }

        /// Every slot, in declaration order (`SLOTS[slot as usize] == slot`).
        const SLOTS: &[Slot] = &[$(Slot::$slot,)*];
    };
}

slots! {
    /// Outside the permit (SOAP envelope, service response).
    Outside,
    /// Inside the permit but of no interest: unknown elements, the context, signatories 2 and 4.
    Skip,
    Root,
    Header,
    Consignment,
    PermitNumber,
    DocName,
    DocType,
    DocSubtype,
    IssueDate,
    Copy,
    PurposeText,
    PurposeCode,
    Information,
    HeaderRef,
    Validity,
    ValidFrom,
    ValidUntil,
    DocDate,
    DocTypeCode,
    DocId,
    TransportDoc,
    TransportDocId,
    PrevDoc,
    OperationNumber,
    Location,
    LocId,
    LocName,
    FirstSig,
    StampId,
    ThirdSig,
    SigDate,
    SigStatement,
    SigParty,
    SigPerson,
    SigName,
    Party,
    PartyId,
    PartyName,
    Address,
    /// Toolkit v1's `PostalTradeAddress/CountryIdentificationTradeCountry`.
    AddressCountry,
    /// Toolkit v1's `…/CountryIdentificationTradeCountry/SubordinateTradeCountrySubDivision`.
    AddressSubdivision,
    Postcode,
    PoBox,
    Street,
    City,
    CountryId,
    CountryName,
    Subdivision,
    Exam,
    ExamDate,
    ExamQty,
    Item,
    BlockId,
    Marks,
    Marking,
    TradeCountry,
    TradeCountryId,
    TradeCountryName,
    AssocDoc,
    Package,
    ItemQty,
    TradeLine,
    Appendix,
    Source,
    Product,
    Description,
    Term,
    CommonName,
    ScientificName,
    Procedure,
    Annex,
    UsedToDate,
    Annual,
    Acquisition,
}

impl Slot {
    /// The meaning of an element `name` inside an element meaning `self`: one load from a table
    /// built at compile time by [`Slot::child_rule`].
    #[inline]
    fn child(self, name: Name) -> Slot {
        // `get`: a name added to the enum but not to NAMES falls back on the rule.
        match CHILDREN[self as usize].get(name as usize) {
            Some(slot) => *slot,
            None => self.child_rule(name),
        }
    }

    /// The rule behind [`Slot::child`].
    const fn child_rule(self, name: Name) -> Slot {
        use Name as N;
        use Slot as S;
        match (self, name) {
            (S::Root, N::HeaderExchangedDocument) => S::Header,
            (S::Root, N::SpecifiedSupplyChainConsignment) => S::Consignment,
            (S::Header, N::Id) => S::PermitNumber,
            (S::Header, N::Name) => S::DocName,
            (S::Header, N::TypeCode) => S::DocType,
            (S::Header, N::SubtypeCode) => S::DocSubtype,
            (S::Header, N::IssueDateTime) => S::IssueDate,
            (S::Header, N::CopyIndicator) => S::Copy,
            (S::Header, N::Purpose) => S::PurposeText,
            (S::Header, N::PurposeCode) => S::PurposeCode,
            (S::Header, N::Information) => S::Information,
            (S::Header, N::ReferenceReferencedDocument) => S::HeaderRef,
            (S::Header, N::EffectiveSpecifiedPeriod) => S::Validity,
            (S::Header, N::IssueLogisticsLocation) => S::Location,
            (S::Header, N::FirstSignatoryDocumentAuthentication) => S::FirstSig,
            (S::Header, N::ThirdSignatoryDocumentAuthentication) => S::ThirdSig,
            (S::HeaderRef | S::AssocDoc, N::IssueDateTime) => S::DocDate,
            (S::HeaderRef | S::AssocDoc, N::TypeCode) => S::DocTypeCode,
            (S::HeaderRef | S::AssocDoc, N::Id) => S::DocId,
            (S::Validity, N::StartDateTime) => S::ValidFrom,
            (S::Validity, N::EndDateTime) => S::ValidUntil,
            (S::Location, N::Id) => S::LocId,
            (S::Location, N::Name) => S::LocName,
            (S::FirstSig, N::Id) => S::StampId,
            (S::FirstSig, N::ProviderTradeParty) => S::Party,
            (S::ThirdSig, N::ActualDateTime) => S::SigDate,
            (S::ThirdSig, N::Statement) => S::SigStatement,
            (S::ThirdSig, N::ProviderTradeParty) => S::SigParty,
            (S::SigParty, N::SpecifiedAuthoritativeSignatoryPerson) => S::SigPerson,
            (S::SigPerson, N::Name) => S::SigName,
            (S::Party, N::Id) => S::PartyId,
            (S::Party, N::Name) => S::PartyName,
            (S::Party, N::PostalTradeAddress) => S::Address,
            (S::Address, N::PostcodeCode) => S::Postcode,
            (S::Address, N::PostOfficeBox) => S::PoBox,
            (S::Address, N::StreetName) => S::Street,
            (S::Address, N::CityName) => S::City,
            (S::Address, N::CountryId) => S::CountryId,
            (S::Address, N::CountryName) => S::CountryName,
            (S::Address, N::CountrySubDivisionName) => S::Subdivision,
            // Toolkit v1 nests the country: `CountryIdentificationTradeCountry/{ID, Name,
            // SubordinateTradeCountrySubDivision/Name}` (EPIX's `Cites::V1::Permit`).
            (S::Address, N::CountryIdentificationTradeCountry) => S::AddressCountry,
            (S::AddressCountry, N::Id) => S::CountryId,
            (S::AddressCountry, N::Name) => S::CountryName,
            (S::AddressCountry, N::SubordinateTradeCountrySubDivision) => S::AddressSubdivision,
            (S::AddressSubdivision, N::Name) => S::Subdivision,
            (S::Consignment, N::ConsignorTradeParty | N::ConsigneeTradeParty) => S::Party,
            (S::Consignment, N::TransportContractReferencedDocument) => S::TransportDoc,
            (S::Consignment | S::Item, N::ExaminationTransportEvent) => S::Exam,
            (S::Consignment, N::IncludedSupplyChainConsignmentItem) => S::Item,
            (S::TransportDoc, N::Id) => S::TransportDocId,
            (S::Exam, N::ActualOccurrenceDateTime) => S::ExamDate,
            (S::Exam, N::UnitQuantity) => S::ExamQty,
            // Toolkit v1 (EPIX's `Cites::V1::PermitLineItem#final_quantity`).
            (S::Exam, N::InspectedUnitQuantity) => S::ExamQty,
            (S::Exam, N::OccurrenceLogisticsLocation) => S::Location,
            (S::Exam, N::CertifyingTradeParty) => S::Party,
            (S::Item, N::Id) => S::BlockId,
            (S::Item, N::PhysicalLogisticsShippingMarks) => S::Marks,
            (S::Item, N::OriginTradeCountry | N::ExportTradeCountry) => S::TradeCountry,
            (S::Item, N::AssociatedReferencedDocument) => S::AssocDoc,
            (S::Item, N::TransportLogisticsPackage) => S::Package,
            (S::Item, N::IncludedSupplyChainTradeLineItem) => S::TradeLine,
            (S::Item, N::ApplicableCrossBorderRegulatoryProcedure) => S::Procedure,
            // Toolkit v1 (EPIX's `Cites::V1::PermitLineItem`).
            (S::Item, N::ApplicableCrossBorderGovernmentProcedure) => S::Procedure,
            (S::Marks, N::Marking) => S::Marking,
            (S::TradeCountry, N::Id) => S::TradeCountryId,
            (S::TradeCountry, N::Name) => S::TradeCountryName,
            (S::Package, N::ItemQuantity) => S::ItemQty,
            (S::TradeLine, N::TypeCode) => S::Appendix,
            (S::TradeLine, N::TypeExtensionCode) => S::Source,
            (S::TradeLine, N::RegionalAnnexCode) => S::Annex,
            (S::TradeLine, N::SpecifiedTradeProduct) => S::Product,
            (S::Product, N::Description) => S::Description,
            (S::Product, N::TypeCode) => S::Term,
            (S::Product, N::CommonName) => S::CommonName,
            (S::Product, N::ScientificName) => S::ScientificName,
            (S::Procedure, N::UsedToDateQuotaQuantity) => S::UsedToDate,
            (S::Procedure, N::AnnualQuotaQuantity) => S::Annual,
            (S::Procedure, N::AcquisitionDateTime) => S::Acquisition,
            (S::Procedure, N::PreviousReferencedDocument) => S::PrevDoc,
            (S::PrevDoc, N::Id) => S::OperationNumber,
            _ => S::Skip,
        }
    }

    /// Elements whose text the reader keeps.
    fn is_leaf(self) -> bool {
        use Slot as S;
        !matches!(
            self,
            S::Outside
                | S::Skip
                | S::Root
                | S::Header
                | S::Consignment
                | S::HeaderRef
                | S::Validity
                | S::TransportDoc
                | S::PrevDoc
                | S::Location
                | S::FirstSig
                | S::ThirdSig
                | S::SigParty
                | S::SigPerson
                | S::Party
                | S::Address
                | S::AddressCountry
                | S::AddressSubdivision
                | S::Exam
                | S::Item
                | S::Marks
                | S::TradeCountry
                | S::AssocDoc
                | S::Package
                | S::TradeLine
                | S::Product
                | S::Procedure
        )
    }

    /// Leaves holding a date: their value may come in a UN/CEFACT `DateTimeString` child.
    fn is_date(self) -> bool {
        matches!(
            self,
            Slot::IssueDate
                | Slot::ValidFrom
                | Slot::ValidUntil
                | Slot::DocDate
                | Slot::SigDate
                | Slot::ExamDate
                | Slot::Acquisition
        )
    }

    fn is_quantity(self) -> bool {
        matches!(
            self,
            Slot::ExamQty | Slot::ItemQty | Slot::UsedToDate | Slot::Annual
        )
    }
}

/// [`Slot::child_rule`] for every slot and name (`Name::Other` is 0, the others follow
/// [`NAMES`]'s order): a match over some seventy pairs costs two unpredictable jumps an element,
/// a table one load.
static CHILDREN: [[Slot; NAME_COUNT]; SLOTS.len()] = {
    let mut table = [[Slot::Skip; NAME_COUNT]; SLOTS.len()];
    let mut parent = 0;
    while parent < SLOTS.len() {
        table[parent][Name::Other as usize] = SLOTS[parent].child_rule(Name::Other);
        let mut known = 0;
        while known < NAMES.len() {
            let name = NAMES[known].0;
            // NAMES follows the enum's order, so `name as usize` is its row index.
            assert!(name as usize == known + 1);
            table[parent][name as usize] = SLOTS[parent].child_rule(name);
            known += 1;
        }
        parent += 1;
    }
    table
};

/// The number of [`Name`]s, `Other` included.
const NAME_COUNT: usize = NAMES.len() + 1;

#[derive(Clone, Copy)]
struct Frame {
    slot: Slot,
    name: Name,
    /// `slot.is_leaf()`, computed once: text events ask for it.
    leaf: bool,
    /// The known children met so far, one bit per [`Name`]: a child the standard allows once
    /// must not come twice.
    seen: u128,
}

// Every name has its bit in `Frame::seen`.
const _: () = assert!(NAMES.len() < 128);

/// Children the standard allows more than once under a parent; every other known child of a
/// known parent may occur once (a second one would make the permit mean two things).
fn repeatable(parent: Slot, child: Name) -> bool {
    matches!(
        (parent, child),
        (
            Slot::Header,
            Name::Information | Name::ReferenceReferencedDocument
        ) | (Slot::Address, Name::StreetName)
            | (Slot::Marks, Name::Marking)
            | (Slot::Consignment, Name::IncludedSupplyChainConsignmentItem)
            | (Slot::Item, Name::AssociatedReferencedDocument)
    )
}

/// The names of the other toolkit version's spelling of the value `child` gives under `parent`,
/// as [`Frame::seen`] bits: a permit giving both (`CountryID` and
/// `CountryIdentificationTradeCountry` in one address) would mean two things.
fn same_value(parent: Slot, child: Name) -> u128 {
    let bits = |names: &[Name]| {
        names
            .iter()
            .fold(0u128, |all, name| all | 1 << (*name as u32))
    };
    match (parent, child) {
        (Slot::Address, Name::CountryIdentificationTradeCountry) => bits(&[
            Name::CountryId,
            Name::CountryName,
            Name::CountrySubDivisionName,
        ]),
        (Slot::Address, Name::CountryId | Name::CountryName | Name::CountrySubDivisionName) => {
            bits(&[Name::CountryIdentificationTradeCountry])
        }
        (Slot::Exam, Name::InspectedUnitQuantity) => bits(&[Name::UnitQuantity]),
        (Slot::Exam, Name::UnitQuantity) => bits(&[Name::InspectedUnitQuantity]),
        (Slot::Item, Name::ApplicableCrossBorderGovernmentProcedure) => {
            bits(&[Name::ApplicableCrossBorderRegulatoryProcedure])
        }
        (Slot::Item, Name::ApplicableCrossBorderRegulatoryProcedure) => {
            bits(&[Name::ApplicableCrossBorderGovernmentProcedure])
        }
        _ => 0,
    }
}

/// The text of the current leaf element: borrowed from the input when it comes in one piece,
/// copied into a reused buffer when it is split by references or CDATA sections.
#[derive(Default)]
struct Text<'a> {
    borrowed: Option<&'a str>,
    owned: String,
    use_owned: bool,
}

impl<'a> Text<'a> {
    fn clear(&mut self) {
        self.borrowed = None;
        self.use_owned = false;
    }

    fn make_owned(&mut self) {
        if !self.use_owned {
            self.owned.clear();
            if let Some(borrowed) = self.borrowed.take() {
                self.owned.push_str(borrowed);
            }
            self.use_owned = true;
        }
    }

    #[inline]
    fn push_str(&mut self, text: &'a str) {
        if !self.use_owned && self.borrowed.is_none() {
            self.borrowed = Some(text);
        } else {
            self.make_owned();
            self.owned.push_str(text);
        }
    }

    fn push_cow(&mut self, text: Cow<'a, str>) {
        match text {
            Cow::Borrowed(text) => self.push_str(text),
            Cow::Owned(text) => {
                self.make_owned();
                self.owned.push_str(&text);
            }
        }
    }

    fn push_char(&mut self, c: char) {
        self.make_owned();
        self.owned.push(c);
    }
}

/// Which box 12/12a a referenced document of a block claims to be, by its 1001 type code.
#[derive(Clone, Copy, PartialEq, Eq)]
enum DocKind {
    Origin,
    Reexport,
    Other,
}

/// A date that could not be read, kept until we know which field it belonged to.
struct BadDate {
    text: String,
    path: String,
}

struct DocScratch {
    kind: DocKind,
    /// Set once the document has been given box 12 or 12a.
    assigned: bool,
    type_code: Option<String>,
    id: Option<String>,
    date: Option<Timestamp>,
    bad_date: Option<BadDate>,
}

impl DocScratch {
    fn new() -> Self {
        DocScratch {
            kind: DocKind::Other,
            assigned: false,
            type_code: None,
            id: None,
            date: None,
            bad_date: None,
        }
    }
}

struct State<'a> {
    permit: Permit,
    findings: Vec<Finding>,
    frames: Vec<Frame>,
    /// Index in `frames` of the CITESEPermit element, once found.
    root_frame: Option<usize>,
    permit_seen: bool,
    /// The permit element's name once found: `CITESEPermit` (v2) or `CBFShip` (v1).
    root_name: Name,
    text: Text<'a>,
    party: Party,
    location: Location,
    exam: Examination,
    doc: DocScratch,
    docs: Vec<DocScratch>,
    block: Block,
    /// Blocks started so far (the 1-based index of the current one).
    items: usize,
    /// Header references started so far.
    header_refs: usize,
    /// Referenced documents started in the current block.
    item_docs: usize,
    unit: Option<Coded<Unit>>,
    /// The `format` attribute of the current `DateTimeString`.
    date_format: Option<String>,
    /// Namespace prefixes declared by the elements around the permit (a SOAP envelope), to
    /// tell which namespace the root is in.
    outer_namespaces: Vec<Declared>,
}

/// A namespace declaration (`xmlns:p="uri"`, or `xmlns="uri"` with an empty prefix) on an element
/// at `depth`.
struct Declared {
    depth: usize,
    prefix: Vec<u8>,
    uri: String,
}

/// The namespace declarations on an element.
fn namespace_declarations(element: &BytesStart<'_>) -> Vec<(Vec<u8>, String)> {
    element
        .attributes()
        .with_checks(false)
        .filter_map(Result::ok)
        .filter_map(|attribute| {
            let prefix = declared_prefix(attribute.key.into_inner())?.to_vec();
            let uri = namespace_uri(&attribute.value).into_owned();
            Some((prefix, uri))
        })
        .collect()
}

/// The namespace an element's own declarations give `prefix` (empty: the default namespace),
/// the last one if it is declared twice; borrowed unless the value is not UTF-8.
fn declared_namespace<'e>(element: &'e BytesStart<'_>, prefix: &[u8]) -> Option<Cow<'e, str>> {
    let mut uri = None;
    for attribute in element.attributes().with_checks(false).flatten() {
        if declared_prefix(attribute.key.into_inner()) == Some(prefix) {
            uri = Some(attribute.value);
        }
    }
    uri.map(|value| match value {
        Cow::Borrowed(value) => namespace_uri(value),
        Cow::Owned(value) => Cow::Owned(namespace_uri(&value).into_owned()),
    })
}

/// The prefix an attribute declares a namespace for (`xmlns:p`: `p`; `xmlns`: empty), if it is
/// a namespace declaration.
fn declared_prefix(key: &[u8]) -> Option<&[u8]> {
    if key == b"xmlns" {
        Some(b"")
    } else {
        key.strip_prefix(b"xmlns:")
    }
}

/// A namespace declaration's value as text, trimmed.
fn namespace_uri(value: &[u8]) -> Cow<'_, str> {
    match String::from_utf8_lossy(value) {
        Cow::Borrowed(text) => Cow::Borrowed(text.trim()),
        Cow::Owned(text) => Cow::Owned(text.trim().to_owned()),
    }
}

fn text_outside_root(position: u64) -> Error {
    Error::MalformedXml {
        position,
        message: "text outside the document's root element".to_owned(),
    }
}

fn ambiguous(position: u64, message: &str) -> Error {
    Error::Ambiguous {
        position,
        message: message.to_owned(),
    }
}

fn set_first(target: &mut Option<String>, value: &str) {
    if target.is_none() {
        *target = Some(value.to_owned());
    }
}

fn not_empty<T: Default + PartialEq>(value: T) -> Option<T> {
    (value != T::default()).then_some(value)
}

/// Reads a permit; see [`super::read_permit_with`].
pub(super) fn read(bytes: &[u8], limits: &ReadLimits) -> Result<Decoded, Error> {
    if bytes.len() > limits.max_bytes {
        return Err(Error::TooLarge {
            limit: limits.max_bytes,
            actual: bytes.len(),
        });
    }
    let decoded = crate::text::decode_xml(bytes)?;
    let input: &str = &decoded.text;
    // Positions are byte offsets in the input for UTF-8 (past a BOM), offsets in the decoded
    // text for other encodings.
    let offset = match (decoded.encoding, decoded.because) {
        ("UTF-8", "byte order mark") => 3u64,
        _ => 0u64,
    };
    let has_cr = memchr::memchr(b'\r', input.as_bytes()).is_some();
    let mut reader = Reader::from_str(input);
    let mut state = State {
        permit: Permit::default(),
        findings: Vec::new(),
        frames: Vec::with_capacity(limits.max_depth.min(32)),
        root_frame: None,
        permit_seen: false,
        root_name: Name::Other,
        text: Text::default(),
        party: Party::default(),
        location: Location::default(),
        exam: Examination::default(),
        doc: DocScratch::new(),
        docs: Vec::new(),
        block: Block::default(),
        items: 0,
        header_refs: 0,
        item_docs: 0,
        unit: None,
        date_format: None,
        outer_namespaces: Vec::new(),
    };
    // The first element's local name, for the error when it is not a permit.
    let mut root_name: Option<Cow<'_, str>> = None;
    // Set once the document's root element has closed: anything but white space, comments and
    // processing instructions after it is a second document.
    let mut root_closed = false;
    let outside_root = |what: &str, position: u64| {
        ambiguous(
            position,
            &format!("{what} outside the document's root element (only one document is read)"),
        )
    };

    loop {
        let start = reader.buffer_position() + offset;
        match reader.read_event() {
            Err(error) => return Err(parse_error(&error, reader.error_position() + offset)),
            Ok(Event::Start(_)) | Ok(Event::Empty(_)) if state.frames.len() >= limits.max_depth => {
                return Err(Error::TooDeep {
                    limit: limits.max_depth,
                    position: start,
                });
            }
            Ok(Event::Start(_)) | Ok(Event::Empty(_)) if root_closed && state.frames.is_empty() => {
                return Err(outside_root("a second root element", start));
            }
            Ok(Event::Start(ref element)) => {
                if root_name.is_none() && state.frames.is_empty() {
                    root_name = Some(element_name(input, element));
                }
                state.start(element, &reader, start)?;
            }
            Ok(Event::Empty(ref element)) => {
                if root_name.is_none() && state.frames.is_empty() {
                    root_name = Some(element_name(input, element));
                }
                state.start(element, &reader, start)?;
                state.end();
                root_closed |= state.frames.is_empty();
            }
            Ok(Event::End(_)) => {
                if state.frames.is_empty() {
                    return Err(Error::MalformedXml {
                        position: start,
                        message: "closing tag without an opening tag".into(),
                    });
                }
                state.end();
                root_closed |= state.frames.is_empty();
            }
            // Text outside the root is not well-formed XML, and could hide a second document
            // (a permit after some text after another document).
            Ok(Event::Text(ref text))
                if state.frames.is_empty() && !text.iter().all(u8::is_ascii_whitespace) =>
            {
                return Err(text_outside_root(start));
            }
            Ok(Event::CData(_)) | Ok(Event::GeneralRef(_)) if state.frames.is_empty() => {
                return Err(text_outside_root(start));
            }
            Ok(Event::Text(ref text)) => {
                if state.in_leaf() {
                    match borrowed_text(input, has_cr, text) {
                        Some(text) => state.text.push_str(text),
                        None => state.text.push_cow(text.xml10_content().map_err(|error| {
                            Error::MalformedXml {
                                position: start,
                                message: error.to_string(),
                            }
                        })?),
                    }
                }
            }
            Ok(Event::CData(ref cdata)) => {
                if state.in_leaf() {
                    match borrowed_text(input, has_cr, cdata) {
                        Some(text) => state.text.push_str(text),
                        None => state.text.push_cow(cdata.xml10_content().map_err(|error| {
                            Error::MalformedXml {
                                position: start,
                                message: error.to_string(),
                            }
                        })?),
                    }
                }
            }
            Ok(Event::GeneralRef(ref reference)) => {
                let c = resolve_reference(reference, start)?;
                if state.in_leaf() {
                    state.text.push_char(c);
                }
            }
            Ok(Event::DocType(_)) => return Err(Error::DtdForbidden { position: start }),
            Ok(Event::Decl(_)) | Ok(Event::PI(_)) | Ok(Event::Comment(_)) => {}
            Ok(Event::Eof) => break,
        }
    }

    if let Some(frame) = state.frames.last() {
        return Err(Error::MalformedXml {
            position: reader.buffer_position() + offset,
            message: format!(
                "the document ends before the element <{}> is closed",
                frame.name.as_str()
            ),
        });
    }
    if !state.permit_seen {
        return match root_name {
            Some(root) => Err(Error::NotAPermit {
                root: root.into_owned(),
            }),
            None => Err(Error::MalformedXml {
                position: reader.buffer_position() + offset,
                message: "the document has no element".into(),
            }),
        };
    }
    Ok(Decoded {
        permit: state.permit,
        findings: state.findings,
    })
}

/// The least work any reader that reads elements by their meaning must do, the budget behind
/// issue #20's reading goal (docs/standard-format.md §6): the input decoded and its UTF-8
/// checked, quick-xml's events, each element's local name looked up and its meaning given its
/// parent's ([`Name::of`], [`Slot::child`]: what [`read`] uses), the stack of open elements, and
/// each value's text located in the input and trimmed. Less than [`read`] and less than the
/// tokenizing floor in one respect: no attribute is split or checked, no rule applied, no value
/// parsed or kept. Returns the bytes of value text seen (0 for input that cannot be read), so
/// that nothing can be optimised away.
#[cfg(any(test, feature = "testing"))]
pub(crate) fn dispatch_only(bytes: &[u8]) -> usize {
    let Ok(decoded) = crate::text::decode_xml(bytes) else {
        return 0;
    };
    let input: &str = &decoded.text;
    let has_cr = memchr::memchr(b'\r', input.as_bytes()).is_some();
    let open = |frames: &[Frame], element: &BytesStart<'_>| {
        let name = Name::of(local_name(element.name().into_inner()));
        let slot = match frames.last() {
            Some(parent) if parent.slot != Slot::Outside => parent.slot.child(name),
            _ if matches!(name, Name::CitesEPermit | Name::CbfShip) => Slot::Root,
            _ => Slot::Outside,
        };
        Frame {
            slot,
            name,
            leaf: slot.is_leaf(),
            seen: 0,
        }
    };
    let mut reader = Reader::from_str(input);
    let mut frames: Vec<Frame> = Vec::with_capacity(32);
    let mut seen = 0usize;
    loop {
        match reader.read_event() {
            Ok(Event::Eof) | Err(_) => break,
            Ok(Event::Start(element)) => {
                let frame = open(&frames, &element);
                frames.push(frame);
            }
            Ok(Event::Empty(element)) => seen += usize::from(open(&frames, &element).leaf),
            Ok(Event::End(_)) => {
                frames.pop();
            }
            Ok(Event::Text(text)) if frames.last().is_some_and(|frame| frame.leaf) => {
                if let Some(text) = borrowed_text(input, has_cr, &text) {
                    seen += trim_xml(text).len();
                }
            }
            Ok(_) => {}
        }
    }
    seen
}

/// The text of an event as a slice of the (already validated) input: no second UTF-8 check and
/// no copy. `None` when the text needs line-end normalisation (it holds a carriage return; only
/// looked for when the input has one at all) or,
/// defensively, when it is not a slice of the input; the caller then takes quick-xml's path.
fn borrowed_text<'a>(input: &'a str, has_cr: bool, content: &[u8]) -> Option<&'a str> {
    if has_cr && content.contains(&b'\r') {
        return None;
    }
    let offset = (content.as_ptr() as usize).checked_sub(input.as_ptr() as usize)?;
    input.get(offset..offset.checked_add(content.len())?)
}

/// An element's local name, borrowed from the input.
fn element_name<'a>(input: &'a str, element: &BytesStart<'_>) -> Cow<'a, str> {
    let local = element.local_name();
    match borrowed_text(input, false, local.as_ref()) {
        Some(name) => Cow::Borrowed(name),
        None => Cow::Owned(String::from_utf8_lossy(local.as_ref()).into_owned()),
    }
}

fn parse_error(error: &quick_xml::Error, position: u64) -> Error {
    use quick_xml::escape::EscapeError;
    if let quick_xml::Error::Escape(EscapeError::UnrecognizedEntity(_, name)) = error {
        return Error::UnknownEntity {
            name: name.clone(),
            position,
        };
    }
    Error::MalformedXml {
        position,
        message: error.to_string(),
    }
}

/// Resolves `&name;`: a character reference or one of the five predefined entities.
fn resolve_reference(reference: &BytesRef<'_>, position: u64) -> Result<char, Error> {
    if reference.is_char_ref() {
        return match reference.resolve_char_ref() {
            Ok(Some(c)) if is_xml_char(c) => Ok(c),
            Ok(_) => Err(Error::MalformedXml {
                position,
                message: format!(
                    "the character reference &{}; names a character XML 1.0 does not allow",
                    String::from_utf8_lossy(reference)
                ),
            }),
            Err(error) => Err(Error::MalformedXml {
                position,
                message: error.to_string(),
            }),
        };
    }
    match &**reference {
        b"lt" => Ok('<'),
        b"gt" => Ok('>'),
        b"amp" => Ok('&'),
        b"apos" => Ok('\''),
        b"quot" => Ok('"'),
        other => Err(Error::UnknownEntity {
            name: String::from_utf8_lossy(other).into_owned(),
            position,
        }),
    }
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

/// The local part of a qualified name. Prefixes are short (`ram:`, `urn1:`), so a forward scan
/// finds the colon in a few steps, cheaper than a SIMD search's set-up on names this short.
fn local_name(qualified: &[u8]) -> &[u8] {
    match qualified.iter().position(|&byte| byte == b':') {
        Some(colon) => qualified.get(colon + 1..).unwrap_or_default(),
        None => qualified,
    }
}

/// XML white space: what the reader trims around values (not the wider Unicode set, so that a
/// leading no-break space survives like any other character).
fn trim_xml(text: &str) -> &str {
    text.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r'))
}

impl<'a> State<'a> {
    fn declare_outer_namespaces(&mut self, element: &BytesStart<'_>) {
        if !element.attributes_raw().windows(5).any(|w| w == b"xmlns") {
            return;
        }
        let depth = self.frames.len();
        for (prefix, uri) in namespace_declarations(element) {
            self.outer_namespaces.push(Declared { depth, prefix, uri });
        }
    }

    /// The root must be in its version's namespace (`CITESEPermit` in the v2 permit namespace,
    /// `CBFShip` in the v1 one), or in none (EPIX sends it so); a root in any other namespace is
    /// another vocabulary that happens to use the name.
    fn check_root_namespace(
        &self,
        element: &BytesStart<'_>,
        name: Name,
        position: u64,
    ) -> Result<(), Error> {
        let (expected, what) = if name == Name::CbfShip {
            (
                super::V1_NAMESPACE,
                "the CITES toolkit v1 (CBFShip) namespace",
            )
        } else {
            (super::PERMIT_NAMESPACE, "the CITES e-permit namespace")
        };
        let qualified = element.name().into_inner();
        let prefix: &[u8] = match qualified.iter().position(|&byte| byte == b':') {
            Some(colon) => &qualified[..colon],
            None => b"",
        };
        let uri = declared_namespace(element, prefix).or_else(|| {
            self.outer_namespaces
                .iter()
                .rev()
                .find(|declared| declared.prefix == prefix)
                .map(|declared| Cow::Borrowed(declared.uri.as_str()))
        });
        match uri {
            Some(uri) if !uri.is_empty() && uri != expected => Err(ambiguous(
                position,
                &format!(
                    "the {} element is in the namespace {uri:?}, not {what} {expected:?}",
                    name.as_str()
                ),
            )),
            _ => Ok(()),
        }
    }

    fn in_leaf(&self) -> bool {
        self.frames.last().is_some_and(|frame| frame.leaf)
    }

    fn start(
        &mut self,
        element: &BytesStart<'_>,
        reader: &Reader<&'a [u8]>,
        position: u64,
    ) -> Result<(), Error> {
        let name = Name::of(local_name(element.name().into_inner()));
        let is_root = matches!(name, Name::CitesEPermit | Name::CbfShip);
        if is_root && self.permit_seen {
            return Err(ambiguous(
                position,
                &if name == self.root_name {
                    format!(
                        "a second {} element; a document carries one permit",
                        name.as_str()
                    )
                } else {
                    format!(
                        "a {} element after a {} element (a second permit); a document carries one permit",
                        name.as_str(),
                        self.root_name.as_str()
                    )
                },
            ));
        }
        let slot = match self.frames.last() {
            None
            | Some(Frame {
                slot: Slot::Outside,
                ..
            }) => {
                if is_root {
                    self.permit_seen = true;
                    self.root_name = name;
                    self.root_frame = Some(self.frames.len());
                    self.check_root_namespace(element, name, position)?;
                    Slot::Root
                } else {
                    self.declare_outer_namespaces(element);
                    Slot::Outside
                }
            }
            // A value given in a child element: a UN/CEFACT date string is the date itself;
            // anything else is not understood, and says so rather than dropping the value.
            Some(parent) if parent.leaf => {
                if name == Name::DateTimeString && parent.slot.is_date() {
                    parent.slot
                } else {
                    let leaf = Frame {
                        slot: Slot::Skip,
                        name,
                        leaf: false,
                        seen: 0,
                    };
                    let parent = *parent;
                    let actual = String::from_utf8_lossy(local_name(element.name().into_inner()))
                        .into_owned();
                    let mut path = self.path(leaf);
                    path.pop(); // the unknown name's placeholder
                    path.push_str(&actual);
                    let finding = Finding::new(
                        Severity::Warning,
                        Tier::Structure,
                        "value-element-unknown",
                        self.field_of(parent.slot),
                        path,
                        self.box_of(parent.slot),
                        format!(
                            "<{}> holds an element <{}> the reader does not understand where a value belongs; the value was not read from it",
                            parent.name.as_str(),
                            actual
                        ),
                    );
                    self.findings.push(finding);
                    Slot::Skip
                }
            }
            Some(parent) => parent.slot.child(name),
        };
        // Known children of known parents, values or not (the issuer's authentication type code
        // is read by nobody, yet two of them are still two meanings).
        if slot != Slot::Outside && name != Name::Other {
            if let Some(parent) = self
                .frames
                .last_mut()
                .filter(|parent| !matches!(parent.slot, Slot::Outside | Slot::Skip))
            {
                let bit = 1u128 << (name as u32);
                let other = same_value(parent.slot, name);
                if parent.seen & other != 0 {
                    let parent = *parent;
                    let mut path = self.path(parent);
                    if let Some(cut) = path.rfind('/') {
                        path.truncate(cut);
                    }
                    let given = NAMES
                        .iter()
                        .find(|(known, _)| (parent.seen & other) & (1u128 << (*known as u32)) != 0)
                        .map_or("*", |(_, text)| text);
                    return Err(ambiguous(
                        position,
                        &format!(
                            "<{}> in {path} gives again what <{given}> gave (the toolkit v1 and v2 spellings of one value); a permit gives it once",
                            name.as_str(),
                        ),
                    ));
                }
                if parent.seen & bit != 0 && !repeatable(parent.slot, name) {
                    let parent = *parent;
                    let mut path = self.path(parent);
                    // `path` ends with the parent twice (it is both on the stack and the leaf).
                    if let Some(cut) = path.rfind('/') {
                        path.truncate(cut);
                    }
                    return Err(ambiguous(
                        position,
                        &format!(
                            "<{}> occurs a second time in {path}, where the standard allows it once",
                            name.as_str()
                        ),
                    ));
                }
                parent.seen |= bit;
            }
        }
        let leaf = slot.is_leaf();
        self.frames.push(Frame {
            slot,
            name,
            leaf,
            seen: 0,
        });
        match slot {
            Slot::Party => self.party = Party::default(),
            Slot::Location => self.location = Location::default(),
            Slot::Exam => self.exam = Examination::default(),
            Slot::HeaderRef => {
                self.header_refs += 1;
                self.doc = DocScratch::new();
            }
            Slot::AssocDoc => {
                self.item_docs += 1;
                self.doc = DocScratch::new();
            }
            Slot::Item => {
                if self.items >= crate::model::MAX_BLOCKS {
                    return Err(Error::TooManyBlocks {
                        limit: crate::model::MAX_BLOCKS,
                        at: Some(format!("at byte {position}")),
                    });
                }
                self.items += 1;
                self.item_docs = 0;
                self.block = Block::default();
                self.docs.clear();
            }
            _ => {}
        }
        // Most elements have no attributes; only look when there is something to look at.
        let wanted = if slot.is_quantity() {
            Some(&b"unitCode"[..])
        } else if name == Name::DateTimeString && leaf {
            Some(&b"format"[..])
        } else {
            None
        };
        let value = if !element.attributes_raw().iter().all(u8::is_ascii_whitespace) {
            attributes(element, reader, position, wanted)?
        } else {
            None
        };
        if slot.is_quantity() {
            self.unit = value.map(|unit| Coded::parse(&unit));
        } else if wanted.is_some() {
            self.date_format = value.map(Cow::into_owned);
        }
        if leaf {
            self.text.clear();
        }
        Ok(())
    }

    fn end(&mut self) {
        let Some(frame) = self.frames.pop() else {
            return;
        };
        let depth = self.frames.len();
        while self
            .outer_namespaces
            .last()
            .is_some_and(|declared| declared.depth >= depth)
        {
            self.outer_namespaces.pop();
        }
        let parent = self.frames.last().copied();
        if frame.leaf {
            // The text borrowed from the input needs no move; only text put together from
            // pieces is taken out of the state for the call, and its buffer put back after.
            if self.text.use_owned {
                let owned = std::mem::take(&mut self.text.owned);
                let value = trim_xml(&owned);
                if !value.is_empty() {
                    self.leaf(frame, parent, value);
                }
                self.text.owned = owned;
            } else if let Some(value) = self.text.borrowed.map(trim_xml) {
                if !value.is_empty() {
                    self.leaf(frame, parent, value);
                }
            }
            // A value read from a child (a date string) is not the parent's value too.
            self.text.clear();
            return;
        }
        self.container_end(frame, parent);
    }

    fn container_end(&mut self, frame: Frame, parent: Option<Frame>) {
        let parent_slot = parent.map_or(Slot::Outside, |parent| parent.slot);
        match frame.slot {
            Slot::Root => self.root_frame = None,
            Slot::Party => {
                let party = std::mem::take(&mut self.party);
                if party == Party::default() {
                    return;
                }
                let target = match (parent_slot, frame.name) {
                    (Slot::FirstSig, _) => &mut self.permit.issuing_authority,
                    (Slot::Consignment, Name::ConsignorTradeParty) => &mut self.permit.exporter,
                    (Slot::Consignment, _) => &mut self.permit.importer,
                    _ => &mut self.exam.certifier,
                };
                if target.is_none() {
                    *target = Some(party);
                }
            }
            Slot::Location => {
                let location = std::mem::take(&mut self.location);
                if location == Location::default() {
                    return;
                }
                let target = match parent_slot {
                    Slot::Header => &mut self.permit.issue_place,
                    _ => &mut self.exam.port,
                };
                if target.is_none() {
                    *target = Some(location);
                }
            }
            Slot::Exam => {
                let exam = std::mem::take(&mut self.exam);
                if exam == Examination::default() {
                    return;
                }
                let target = match parent_slot {
                    Slot::Item => &mut self.block.endorsement,
                    _ => &mut self.permit.export_endorsement,
                };
                if target.is_none() {
                    *target = Some(exam);
                }
            }
            Slot::HeaderRef => {
                let doc = std::mem::replace(&mut self.doc, DocScratch::new());
                if let Some(bad) = doc.bad_date {
                    let index = self.permit.references.len();
                    self.findings.push(date_finding(
                        format!("references[{index}].issue_date"),
                        bad.path,
                        "",
                        "the date of the referenced document",
                        &bad.text,
                    ));
                }
                if doc.id.is_some() || doc.date.is_some() {
                    self.permit.references.push(DocumentReference {
                        type_code: doc.type_code,
                        id: doc.id,
                        issue_date: doc.date,
                    });
                }
            }
            Slot::AssocDoc => {
                let doc = std::mem::replace(&mut self.doc, DocScratch::new());
                if doc.id.is_some() || doc.date.is_some() || doc.bad_date.is_some() {
                    self.docs.push(doc);
                }
            }
            Slot::Item => self.item_end(),
            _ => {}
        }
    }

    fn item_end(&mut self) {
        let mut block = std::mem::take(&mut self.block);
        let index = self.items - 1;
        let mut docs = std::mem::take(&mut self.docs);
        assign_documents(&mut block, &mut docs, index, &mut self.findings);
        docs.clear();
        self.docs = docs;
        self.permit.blocks.push(block);
    }

    /// The element path of the current element, for findings (only built when there is one).
    fn path(&self, leaf: Frame) -> String {
        let mut path = String::new();
        let first = self.root_frame.unwrap_or(0);
        let frames = self.frames.iter().skip(first).chain(std::iter::once(&leaf));
        for frame in frames {
            path.push('/');
            path.push_str(frame.name.as_str());
            let index = match frame.slot {
                Slot::Item => self.items,
                Slot::HeaderRef => self.header_refs,
                Slot::AssocDoc => self.item_docs,
                _ => 0,
            };
            if index > 0 {
                path.push_str(&format!("[{index}]"));
            }
        }
        path
    }

    /// A date as written: ISO 8601 in the element itself, or a UN/CEFACT `DateTimeString`
    /// child read by its format code. The error says why, for the finding.
    fn parse_date(&self, leaf: Frame, value: &str) -> Result<Timestamp, String> {
        if leaf.name == Name::DateTimeString {
            Timestamp::parse_cefact(value, self.date_format.as_deref())
        } else {
            Timestamp::parse(value).map_err(|_| {
                format!("{value:?} is not a date in ISO 8601 form (YYYY-MM-DD, or YYYY-MM-DDThh:mm:ss with an optional offset such as +01:00)")
            })
        }
    }

    fn timestamp(
        &mut self,
        leaf: Frame,
        value: &str,
        field: impl FnOnce(&Self) -> String,
        permit_box: &str,
        label: &str,
    ) -> Option<Timestamp> {
        match self.parse_date(leaf, value) {
            Ok(timestamp) => Some(timestamp),
            Err(why) => {
                let finding = date_finding(field(self), self.path(leaf), permit_box, label, &why);
                self.findings.push(finding);
                None
            }
        }
    }

    /// The model field a leaf fills, for findings about it.
    fn field_of(&self, slot: Slot) -> String {
        use Slot as S;
        let party = || {
            let party = self
                .frames
                .iter()
                .rev()
                .find(|frame| frame.slot == S::Party);
            match party.map(|frame| frame.name) {
                Some(Name::ConsigneeTradeParty) => "importer",
                Some(Name::ConsignorTradeParty) => "exporter",
                Some(Name::CertifyingTradeParty) => "export_endorsement.certifier",
                _ => "issuing_authority",
            }
        };
        let field = match slot {
            S::PermitNumber => "permit_number",
            S::DocName => "document_name",
            S::DocType => "document_type",
            S::DocSubtype => "document_subtype",
            S::IssueDate => "issue_date",
            S::Copy => "copy",
            S::PurposeText => "purpose_text",
            S::PurposeCode => "purpose",
            S::Information => "special_conditions",
            S::ValidFrom => "valid_from",
            S::ValidUntil => "valid_until",
            S::DocDate | S::DocTypeCode | S::DocId => "references",
            S::TransportDocId => "transport_document",
            S::StampId => "security_stamp",
            S::SigDate | S::SigStatement | S::SigName => "signatory",
            S::LocId | S::LocName => "issue_place",
            S::PartyId | S::PartyName => return party().to_owned(),
            S::Postcode
            | S::PoBox
            | S::Street
            | S::City
            | S::CountryId
            | S::CountryName
            | S::Subdivision => return format!("{}.address", party()),
            S::ExamDate | S::ExamQty => "export_endorsement",
            S::BlockId => return self.block_field("id"),
            S::Marking => return self.block_field("marks"),
            S::TradeCountryId | S::TradeCountryName => return self.block_field("origin"),
            S::ItemQty => return self.block_field("quantity"),
            S::Appendix => return self.block_field("appendix"),
            S::Annex => return self.block_field("eu_annex"),
            S::Source => return self.block_field("source"),
            S::Description => return self.block_field("description"),
            S::Term => return self.block_field("term"),
            S::CommonName => return self.block_field("common_name"),
            S::ScientificName => return self.block_field("scientific_name"),
            S::UsedToDate | S::Annual => return self.block_field("quota"),
            S::Acquisition => return self.block_field("acquisition_date"),
            S::OperationNumber => return self.block_field("operation_number"),
            _ => "",
        };
        field.to_owned()
    }

    /// The permit box a leaf fills, for findings about it.
    fn box_of(&self, slot: Slot) -> &'static str {
        use Slot as S;
        match slot {
            S::PermitNumber | S::DocName | S::DocType | S::DocSubtype => "1",
            S::ValidFrom | S::ValidUntil => "2",
            S::PurposeText | S::PurposeCode => "5a",
            S::Information => "5",
            S::StampId => "5b",
            S::IssueDate | S::SigDate | S::SigStatement | S::SigName | S::LocId | S::LocName => {
                "13"
            }
            S::TransportDocId => "15",
            S::ExamDate | S::ExamQty => "14",
            S::Marking | S::Description | S::Term => "9",
            S::Appendix | S::Source | S::Annex => "10",
            S::ItemQty => "11",
            S::UsedToDate | S::Annual => "11a",
            S::TradeCountryId | S::TradeCountryName | S::DocDate | S::DocId | S::DocTypeCode => {
                if self.in_item() {
                    "12"
                } else {
                    ""
                }
            }
            S::Acquisition | S::OperationNumber => "12b",
            S::CommonName => "8",
            S::ScientificName | S::BlockId => "7",
            _ => {
                let party = self
                    .frames
                    .iter()
                    .rev()
                    .find(|frame| frame.slot == S::Party);
                match party.map(|frame| frame.name) {
                    Some(Name::ConsigneeTradeParty) => "3",
                    Some(Name::ConsignorTradeParty) => "4",
                    Some(Name::CertifyingTradeParty) => "14",
                    Some(_) => "6",
                    None => "",
                }
            }
        }
    }

    fn quantity(
        &mut self,
        leaf: Frame,
        value: &str,
        field: impl FnOnce(&Self) -> String,
        permit_box: &str,
        label: &str,
    ) -> Option<Quantity> {
        let unit = self.unit.take();
        match Decimal::from_str(value) {
            Ok(value) => Some(Quantity { value, unit }),
            Err(_) => {
                let finding = Finding::new(
                    Severity::Error,
                    Tier::Structure,
                    "number-format",
                    field(self),
                    self.path(leaf),
                    permit_box,
                    format!("{label} is {value:?}, which is not a number (expected digits with an optional decimal point, such as 12 or 0.5); it was left empty"),
                );
                self.findings.push(finding);
                None
            }
        }
    }

    fn block_field(&self, name: &str) -> String {
        format!("blocks[{}].{name}", self.items.saturating_sub(1))
    }

    fn in_item(&self) -> bool {
        self.frames.iter().any(|frame| frame.slot == Slot::Item)
    }

    fn leaf(&mut self, leaf: Frame, parent: Option<Frame>, value: &str) {
        match leaf.slot {
            Slot::PermitNumber if self.permit.permit_number.is_empty() => {
                self.permit.permit_number = value.to_owned();
            }
            Slot::DocName => set_first(&mut self.permit.document_name, value),
            Slot::DocType => {
                self.permit
                    .document_type
                    .get_or_insert_with(|| Coded::parse(value));
            }
            Slot::DocSubtype => set_first(&mut self.permit.document_subtype, value),
            Slot::IssueDate if self.permit.issue_date.is_none() => {
                self.permit.issue_date = self.timestamp(
                    leaf,
                    value,
                    |_| "issue_date".into(),
                    "13",
                    "the date of issue",
                );
            }
            Slot::Copy if self.permit.copy.is_none() => {
                self.permit.copy = match value {
                    "true" | "1" => Some(true),
                    "false" | "0" => Some(false),
                    _ => {
                        let finding = Finding::new(
                            Severity::Error,
                            Tier::Structure,
                            "boolean-format",
                            "copy",
                            self.path(leaf),
                            "",
                            format!("the copy indicator is {value:?}, which is neither true nor false; it was left empty"),
                        );
                        self.findings.push(finding);
                        None
                    }
                };
            }
            Slot::PurposeText => set_first(&mut self.permit.purpose_text, value),
            Slot::PurposeCode => {
                self.permit
                    .purpose
                    .get_or_insert_with(|| Coded::parse(value));
            }
            Slot::Information => self.permit.special_conditions.push(value.to_owned()),
            Slot::ValidFrom if self.permit.valid_from.is_none() => {
                self.permit.valid_from = self.timestamp(
                    leaf,
                    value,
                    |_| "valid_from".into(),
                    "2",
                    "the first day of validity",
                );
            }
            Slot::ValidUntil if self.permit.valid_until.is_none() => {
                self.permit.valid_until = self.timestamp(
                    leaf,
                    value,
                    |_| "valid_until".into(),
                    "2",
                    "the last day of validity",
                );
            }
            Slot::DocDate if self.doc.date.is_none() && self.doc.bad_date.is_none() => {
                match self.parse_date(leaf, value) {
                    Ok(date) => self.doc.date = Some(date),
                    Err(why) => {
                        self.doc.bad_date = Some(BadDate {
                            text: why,
                            path: self.path(leaf),
                        })
                    }
                }
            }
            Slot::DocTypeCode if self.doc.type_code.is_none() => {
                self.doc.kind = match value {
                    ORIGIN_DOCUMENT => DocKind::Origin,
                    REEXPORT_DOCUMENT => DocKind::Reexport,
                    _ => DocKind::Other,
                };
                self.doc.type_code = Some(value.to_owned());
            }
            Slot::DocId => set_first(&mut self.doc.id, value),
            Slot::TransportDocId => set_first(&mut self.permit.transport_document, value),
            Slot::OperationNumber => set_first(&mut self.block.operation_number, value),
            Slot::LocId => set_first(&mut self.location.id, value),
            Slot::LocName => set_first(&mut self.location.name, value),
            Slot::StampId => set_first(&mut self.permit.security_stamp, value),
            Slot::SigDate => {
                let missing = self
                    .permit
                    .signatory
                    .as_ref()
                    .is_none_or(|signatory| signatory.date.is_none());
                if missing {
                    let date = self.timestamp(
                        leaf,
                        value,
                        |_| "signatory.date".into(),
                        "13",
                        "the date of signature",
                    );
                    if let Some(date) = date {
                        self.permit
                            .signatory
                            .get_or_insert_with(Default::default)
                            .date = Some(date);
                    }
                }
            }
            Slot::SigStatement => {
                let signatory = self.permit.signatory.get_or_insert_with(Default::default);
                set_first(&mut signatory.statement, value);
            }
            Slot::SigName => {
                let signatory = self.permit.signatory.get_or_insert_with(Default::default);
                set_first(&mut signatory.name, value);
            }
            Slot::PartyId => set_first(&mut self.party.id, value),
            Slot::PartyName => set_first(&mut self.party.name, value),
            Slot::Postcode => set_first(&mut self.party.address.postcode, value),
            Slot::PoBox => set_first(&mut self.party.address.post_office_box, value),
            Slot::Street => self.party.address.street.push(value.to_owned()),
            Slot::City => set_first(&mut self.party.address.city, value),
            Slot::CountryId => {
                self.party
                    .address
                    .country
                    .get_or_insert_with(|| Coded::parse(value));
            }
            Slot::CountryName => set_first(&mut self.party.address.country_name, value),
            Slot::Subdivision => set_first(&mut self.party.address.subdivision, value),
            Slot::ExamDate if self.exam.date.is_none() => {
                let in_item = self.in_item();
                self.exam.date = self.timestamp(
                    leaf,
                    value,
                    |state| {
                        if in_item {
                            state.block_field("endorsement.date")
                        } else {
                            "export_endorsement.date".into()
                        }
                    },
                    "14",
                    "the date of the export endorsement",
                );
            }
            Slot::ExamQty if self.exam.quantity.is_none() => {
                let field = |state: &Self| {
                    if state.in_item() {
                        state.block_field("endorsement.quantity")
                    } else {
                        "export_endorsement.quantity".into()
                    }
                };
                self.exam.quantity =
                    self.quantity(leaf, value, field, "14", "the quantity endorsed at export");
            }
            Slot::BlockId if self.block.id.is_empty() => {
                self.block.id = value.to_owned();
            }
            Slot::Marking => self.block.marks.push(value.to_owned()),
            Slot::TradeCountryId | Slot::TradeCountryName => {
                let target = match parent {
                    Some(Frame {
                        name: Name::ExportTradeCountry,
                        ..
                    }) => &mut self.block.last_reexport,
                    _ => &mut self.block.origin,
                };
                let reference = target.get_or_insert_with(Default::default);
                if leaf.slot == Slot::TradeCountryId {
                    reference.country.get_or_insert_with(|| Coded::parse(value));
                } else {
                    set_first(&mut reference.country_name, value);
                }
            }
            Slot::ItemQty if self.block.quantity.is_none() => {
                let field = |state: &Self| state.block_field("quantity");
                self.block.quantity = self.quantity(leaf, value, field, "11", "the quantity");
            }
            Slot::Appendix => {
                self.block
                    .appendix
                    .get_or_insert_with(|| Coded::parse(value));
            }
            Slot::Source => {
                self.block.source.get_or_insert_with(|| Coded::parse(value));
            }
            Slot::Annex => {
                self.block
                    .eu_annex
                    .get_or_insert_with(|| Coded::parse(value));
            }
            Slot::Description => set_first(&mut self.block.description, value),
            Slot::Term => {
                self.block.term.get_or_insert_with(|| Coded::parse(value));
            }
            Slot::CommonName => set_first(&mut self.block.common_name, value),
            Slot::ScientificName => set_first(&mut self.block.scientific_name, value),
            Slot::UsedToDate | Slot::Annual => {
                let used = leaf.slot == Slot::UsedToDate;
                let present = self.block.quota.as_ref().is_some_and(|quota| {
                    if used {
                        quota.used_to_date.is_some()
                    } else {
                        quota.annual.is_some()
                    }
                });
                if !present {
                    let (name, label) = if used {
                        ("quota.used_to_date", "the total exported to date")
                    } else {
                        ("quota.annual", "the annual quota")
                    };
                    let field = |state: &Self| state.block_field(name);
                    if let Some(quantity) = self.quantity(leaf, value, field, "11a", label) {
                        let quota = self.block.quota.get_or_insert_with(Default::default);
                        if used {
                            quota.used_to_date = Some(quantity);
                        } else {
                            quota.annual = Some(quantity);
                        }
                    }
                }
            }
            Slot::Acquisition if self.block.acquisition_date.is_none() => {
                self.block.acquisition_date = self.timestamp(
                    leaf,
                    value,
                    |state| state.block_field("acquisition_date"),
                    "12b",
                    "the date of acquisition",
                );
            }
            _ => {}
        }
    }
}

/// Checks every attribute of an element for well-formedness (quoting, duplicates, references)
/// and returns the value of the `wanted` attribute (a quantity's `unitCode`, a date string's
/// `format`): absent, empty and EPIX's `?` placeholder all mean "not given".
fn attributes<'e>(
    element: &'e BytesStart<'_>,
    reader: &Reader<&[u8]>,
    position: u64,
    wanted: Option<&[u8]>,
) -> Result<Option<Cow<'e, str>>, Error> {
    let mut found = None;
    // quick-xml's own duplicate check compares every pair; this one is linear: a list while
    // short, a hash set beyond, and no more than MAX_ATTRIBUTES in all.
    let mut keys: Vec<&[u8]> = Vec::new();
    let mut many: Option<std::collections::HashSet<Vec<u8>>> = None;
    for attribute in element.attributes().with_checks(false) {
        let attribute = attribute.map_err(|error| Error::MalformedXml {
            position,
            message: error.to_string(),
        })?;
        let key = attribute.key.into_inner();
        let duplicate = match &mut many {
            Some(set) => !set.insert(key.to_vec()),
            None if keys.len() < 16 => {
                let duplicate = keys.contains(&key);
                keys.push(key);
                duplicate
            }
            None => {
                let mut set: std::collections::HashSet<Vec<u8>> =
                    keys.iter().map(|key| key.to_vec()).collect();
                let duplicate = !set.insert(key.to_vec());
                many = Some(set);
                duplicate
            }
        };
        if duplicate {
            return Err(Error::MalformedXml {
                position,
                message: format!(
                    "the attribute {} appears twice on one element",
                    String::from_utf8_lossy(key)
                ),
            });
        }
        let count = many.as_ref().map_or(keys.len(), |set| set.len());
        if count > super::MAX_ATTRIBUTES {
            return Err(Error::TooManyAttributes {
                limit: super::MAX_ATTRIBUTES,
                position,
            });
        }
        let is_wanted = wanted == Some(attribute.key.local_name().as_ref());
        if !is_wanted && !attribute.value.contains(&b'&') {
            continue;
        }
        let value = attribute
            .decode_and_unescape_value(reader.decoder())
            .map_err(|error| parse_error(&error, position))?;
        if is_wanted && found.is_none() {
            // Borrowed from the element unless a reference had to be resolved.
            let value = match value {
                Cow::Borrowed(value) => Cow::Borrowed(trim_xml(value)),
                Cow::Owned(value) => Cow::Owned(trim_xml(&value).to_owned()),
            };
            if !value.is_empty() && value != "?" {
                found = Some(value);
            }
        }
    }
    Ok(found)
}

/// A date that could not be read; `why` says what the text is and what was expected.
fn date_finding(field: String, path: String, permit_box: &str, label: &str, why: &str) -> Finding {
    Finding::new(
        Severity::Error,
        Tier::Structure,
        "date-format",
        field,
        path,
        permit_box,
        format!("{label}: {why}; it was left empty"),
    )
}

/// The country code of box 12 or 12a, to match document numbers against.
fn country_of(reference: &Option<CountryReference>) -> Option<&str> {
    reference
        .as_ref()
        .and_then(|reference| reference.country.as_ref())
        .map(Coded::as_str)
        .filter(|code| !code.is_empty())
}

/// Whether a document number carries `country` as its issuer: it starts with the country code
/// (`FR1202501030-R`), or with a two-digit year and then the code (`26DE004711`), as many MAs
/// number their permits.
fn number_of_country(id: &str, country: &str) -> bool {
    let bytes = id.as_bytes();
    id.starts_with(country)
        || (bytes.len() > 4
            && bytes[..2].iter().all(u8::is_ascii_digit)
            && id.get(2..4) == Some(country))
}

/// Assigns a block's referenced documents to box 12 (origin) and box 12a (last re-export).
///
/// EPIX calls the 1001 type codes "buggy data", so they are trusted first but not alone: a
/// document without a usable code goes to the box whose country its number carries (as a
/// prefix, or after a two-digit year), and otherwise fills the boxes in order (origin first).
/// Every box given by country or by position is reported (`reference-box-inferred`, a
/// warning), so a guess is never silent.
fn assign_documents(
    block: &mut Block,
    docs: &mut [DocScratch],
    index: usize,
    findings: &mut Vec<Finding>,
) {
    let mut origin: Option<usize> = None;
    let mut reexport: Option<usize> = None;
    let usable = |doc: &DocScratch| doc.id.is_some() || doc.date.is_some();

    for (position, doc) in docs.iter_mut().enumerate() {
        if !usable(doc) {
            continue;
        }
        let slot = match doc.kind {
            DocKind::Origin => &mut origin,
            DocKind::Reexport => &mut reexport,
            DocKind::Other => continue,
        };
        if slot.is_none() {
            *slot = Some(position);
            doc.assigned = true;
        }
    }
    let origin_country = country_of(&block.origin);
    let reexport_country = country_of(&block.last_reexport);
    for (position, doc) in docs.iter_mut().enumerate() {
        if doc.assigned || !usable(doc) {
            continue;
        }
        let Some(id) = doc.id.as_deref() else {
            continue;
        };
        let prefixed =
            |country: Option<&str>| country.is_some_and(|country| number_of_country(id, country));
        let inferred = if origin.is_none() && prefixed(origin_country) {
            origin = Some(position);
            Some(("12", "origin", origin_country))
        } else if reexport.is_none() && prefixed(reexport_country) {
            reexport = Some(position);
            Some(("12a", "last re-export", reexport_country))
        } else {
            None
        };
        if let Some((permit_box, role, country)) = inferred {
            doc.assigned = true;
            findings.push(inferred_finding(
                index,
                position,
                permit_box,
                format!(
                    "the document {id} has no UN/EDIFACT 1001 type code (861 origin, 811 re-export); it was taken as the {role} document of box {permit_box} because its number carries the country {}",
                    country.unwrap_or_default()
                ),
            ));
        }
    }
    for (position, doc) in docs.iter_mut().enumerate() {
        if doc.assigned || !usable(doc) {
            continue;
        }
        let described = doc.id.as_deref().map_or_else(
            || "a document without number".to_owned(),
            |id| format!("the document {id}"),
        );
        if origin.is_none() {
            origin = Some(position);
            findings.push(inferred_finding(
                index,
                position,
                "12",
                format!("{described} has no usable UN/EDIFACT 1001 type code and its number names neither country; it was taken as the origin document of box 12 by its position"),
            ));
        } else if reexport.is_none() {
            reexport = Some(position);
            findings.push(inferred_finding(
                index,
                position,
                "12a",
                format!("{described} has no usable UN/EDIFACT 1001 type code and its number names neither country; it was taken as the last re-export document of box 12a by its position"),
            ));
        } else {
            findings.push(Finding::new(
                Severity::Warning,
                Tier::Structure,
                "reference-unassigned",
                format!("blocks[{index}]"),
                format!("/CITESEPermit/SpecifiedSupplyChainConsignment/IncludedSupplyChainConsignmentItem[{}]/AssociatedReferencedDocument[{}]", index + 1, position + 1),
                "12",
                format!(
                    "block {} refers to a third document{} besides its origin permit and last re-export certificate; it was ignored",
                    if block.id.is_empty() { (index + 1).to_string() } else { block.id.clone() },
                    doc.id.as_deref().map(|id| format!(" ({id})")).unwrap_or_default()
                ),
            ));
            continue;
        }
        doc.assigned = true;
    }

    for (position, doc) in docs.iter_mut().enumerate() {
        let (field, permit_box, target) = if Some(position) == origin {
            ("origin", "12", Some(&mut block.origin))
        } else if Some(position) == reexport {
            ("last_reexport", "12a", Some(&mut block.last_reexport))
        } else {
            match doc.kind {
                DocKind::Reexport => ("last_reexport", "12a", None),
                _ => ("origin", "12", None),
            }
        };
        if let Some(bad) = doc.bad_date.take() {
            findings.push(date_finding(
                format!("blocks[{index}].{field}.permit_date"),
                bad.path,
                permit_box,
                if field == "origin" {
                    "the date of the origin permit"
                } else {
                    "the date of the last re-export certificate"
                },
                &bad.text,
            ));
        }
        if let Some(target) = target {
            let reference = target.get_or_insert_with(Default::default);
            reference.permit_number = doc.id.take();
            reference.permit_date = doc.date.take();
        }
    }
    block.origin = block.origin.take().and_then(not_empty);
    block.last_reexport = block.last_reexport.take().and_then(not_empty);
}

/// A box 12/12a document assigned by inference rather than by its type code.
fn inferred_finding(index: usize, position: usize, permit_box: &str, message: String) -> Finding {
    let field = if permit_box == "12" {
        "origin.permit_number"
    } else {
        "last_reexport.permit_number"
    };
    Finding::new(
        Severity::Warning,
        Tier::Structure,
        "reference-box-inferred",
        format!("blocks[{index}].{field}"),
        format!(
            "/CITESEPermit/SpecifiedSupplyChainConsignment/IncludedSupplyChainConsignmentItem[{}]/AssociatedReferencedDocument[{}]",
            index + 1,
            position + 1
        ),
        permit_box,
        message,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dispatch_floor_sees_the_trimmed_text_of_values_only() {
        // "P-1" is the permit number's value; <Other> and the header are not values, and an
        // empty value element counts 1.
        let xml = b"<CITESEPermit><HeaderExchangedDocument><ID> P-1 </ID><Other>xx</Other><Name/></HeaderExchangedDocument></CITESEPermit>";
        assert_eq!(super::dispatch_only(xml), 4);
        // Input that cannot be decoded is not read at all.
        assert_eq!(super::dispatch_only(b"\xff\xfe<"), 0);
    }

    #[test]
    fn every_known_name_is_found_by_its_spelling_and_spelled_back() {
        for (name, text) in NAMES {
            assert_eq!(Name::of(text.as_bytes()), *name, "{text}");
            assert_eq!(name.as_str(), *text);
        }
        assert_eq!(Name::of(b"Unknown"), Name::Other);
        assert_eq!(Name::of(b""), Name::Other);
        assert_eq!(Name::of(b"id"), Name::Other, "names are case-sensitive");
    }

    #[test]
    fn the_child_table_gives_what_the_rule_gives_for_every_slot_and_name() {
        assert!(SLOTS
            .iter()
            .enumerate()
            .all(|(index, slot)| *slot as usize == index));
        let names = NAMES.iter().map(|(name, _)| *name).chain([Name::Other]);
        for name in names {
            for slot in SLOTS {
                assert_eq!(slot.child(name), slot.child_rule(name), "{slot:?} {name:?}");
            }
        }
        assert_eq!(Slot::Header.child(Name::Id), Slot::PermitNumber);
        assert_eq!(Slot::Party.child(Name::Id), Slot::PartyId);
        assert_eq!(Slot::Skip.child(Name::Id), Slot::Skip);
    }
}
