//! Permit use: what customs records when a shipment crosses a border under a permit, the
//! balance per block that uses leave, and the checks that turn a use into findings.
//!
//! A **use** ([`PermitUse`]) is one of:
//! - an **export endorsement** (box 14): the exporting country's customs record, per block, the
//!   quantity actually exported, with date, port, office and the customs declaration;
//! - an **import confirmation**: the importing country's customs record, per block, the
//!   quantity inspected on arrival (and, for live specimens, the number dead on arrival);
//! - a **border refusal**: the shipment was stopped or the permit refused, with a reason.
//!
//! The checks ([`check_use`]) compare a use with what the ledger knows about the permit
//! ([`PermitOnRecord`]) and the uses recorded before ([`UseOnRecord`]). They follow the
//! Convention: one consignment per permit (Art. VI para. 6 and Res. Conf. 12.3 (Rev. CoP19)
//! para. 3 h)), export permits valid for six months and import permits for twelve (Art. VI
//! para. 2, Res. Conf. 12.3 para. 3 i)), quantities not above those permitted, and the
//! endorsement of box 14 with the quantities actually exported (Res. Conf. 12.3, Annex 2).
//! Every finding has a stable rule id ([`USE_RULES`]), tier [`Tier::Use`], the block and the box.
//!
//! Pure logic, no I/O: the exchange crate reads the ledger, calls these functions and records
//! the result.

use crate::codes::{Coded, Unit};
use crate::model::{Location, Permit, PermitId, Quantity, Timestamp};
use crate::validate::RuleInfo;
use crate::{CountryCode, Finding, Severity, Tier};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest customs declaration number, permit number, port, office or officer text kept (UN/CEFACT
/// identifiers are at most 35 characters; names get more room).
pub const MAX_USE_ID_CHARS: usize = 35;
/// Longest free text (names, reasons) kept on a use.
pub const MAX_USE_TEXT_CHARS: usize = 512;
/// The most blocks one use may name (as a permit: [`crate::model::MAX_BLOCKS`]).
pub const MAX_USE_BLOCKS: usize = crate::model::MAX_BLOCKS;

/// What a customs authority recorded.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum UseKind {
    /// Box 14: the exporting country's customs endorsed the permit with the quantities actually
    /// exported.
    ExportEndorsement,
    /// The importing country's customs confirmed the quantities that arrived.
    ImportConfirmation,
    /// The shipment was stopped or the permit refused at a border.
    BorderRefusal,
}

impl UseKind {
    /// The wire name (`export_endorsement`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            UseKind::ExportEndorsement => "export_endorsement",
            UseKind::ImportConfirmation => "import_confirmation",
            UseKind::BorderRefusal => "border_refusal",
        }
    }

    /// Reads a wire name.
    pub fn parse(text: &str) -> Option<Self> {
        [
            UseKind::ExportEndorsement,
            UseKind::ImportConfirmation,
            UseKind::BorderRefusal,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == text)
    }

    /// What a customs officer reads.
    pub fn label(self) -> &'static str {
        match self {
            UseKind::ExportEndorsement => "export endorsement",
            UseKind::ImportConfirmation => "import confirmation",
            UseKind::BorderRefusal => "border refusal",
        }
    }

    /// True for the uses that move specimens across a border (and so consume the permit).
    pub fn is_consignment(self) -> bool {
        !matches!(self, UseKind::BorderRefusal)
    }
}

impl fmt::Display for UseKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The permit a use names: its issuing country (box 6) and number (box 1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UsedPermit {
    /// The issuing Management Authority's country (ISO 3166-1 alpha-2).
    pub issuer: String,
    /// The permit number (box 1).
    pub number: String,
    /// The version of the permit customs saw, when their system knows it (a re-issued permit
    /// keeps its number and gets a new version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
}

/// One block of a use: the quantity actually exported, or inspected on arrival.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UseBlock {
    /// The permit's block letter (A, B, ...).
    pub block: String,
    /// The quantity, in the CITES unit of the permit's box 11 (none: number of specimens).
    pub quantity: Quantity,
    /// Live specimens found dead on arrival (import confirmations), in the same unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_on_arrival: Option<Decimal>,
}

/// A use: what a customs authority recorded about a shipment under a permit.
///
/// Its JSON form is `schema/use.schema.json`; `docs/permit-use.md` documents it field by field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PermitUse {
    /// What was recorded.
    pub kind: UseKind,
    /// The permit.
    pub permit: UsedPermit,
    /// The country whose customs recorded the use (ISO 3166-1 alpha-2).
    pub reported_by: String,
    /// The customs declaration number: one declaration may cover several permits, and the
    /// same declaration names the same consignment.
    #[serde(default)]
    pub declaration_number: String,
    /// When the shipment was examined (date, or date and time).
    pub date: Timestamp,
    /// The port of exit or entry, preferably its UN/LOCODE, and its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<Location>,
    /// The customs office.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customs_office: Option<String>,
    /// The officer who recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub officer: Option<String>,
    /// The quantities per block (export endorsements and import confirmations).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocks: Vec<UseBlock>,
    /// Why the shipment was stopped (border refusals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A use that cannot be read: the field (JSON path) and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {rule}")]
pub struct UseReadError {
    /// The JSON path of the field (`blocks[0].quantity.value`), or `use` for the whole.
    pub field: String,
    /// The rule broken, in words.
    pub rule: String,
}

impl PermitUse {
    /// Reads a use from its JSON form. Errors name the field and the rule broken.
    pub fn from_json(bytes: &[u8]) -> Result<Self, UseReadError> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let parsed: Result<PermitUse, _> = serde_path_to_error::deserialize(&mut de);
        parsed.map_err(|e| {
            let path = e.path().to_string();
            UseReadError {
                field: if path == "." { "use".into() } else { path },
                rule: e.into_inner().to_string(),
            }
        })
    }

    /// The permit's identity, when the issuer is a known country code.
    pub fn permit_id(&self) -> Option<PermitId> {
        let issuer: CountryCode = self.permit.issuer.trim().parse().ok()?;
        let number = self.permit.number.trim();
        (!number.is_empty()).then(|| PermitId {
            issuer,
            number: number.to_owned(),
        })
    }

    /// The reporting country, when it is a known code.
    pub fn reporter(&self) -> Option<CountryCode> {
        self.reported_by.trim().parse().ok()
    }
}

/// One block of a permit as the ledger keeps it for checking uses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockFacts {
    /// The block letter.
    pub id: String,
    /// Box 7.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scientific_name: Option<String>,
    /// Box 9 term code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term: Option<String>,
    /// Box 11: the quantity permitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Quantity>,
    /// Box 14: the quantity the exporting country's customs endorsed, when the permit carries
    /// its endorsement (an endorsed permit received from its issuer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endorsed: Option<Quantity>,
    /// Box 10: the Appendix declared (for the listing tier at the border).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appendix: Option<String>,
    /// Box 10: the source code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Box 12: the country of origin, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// Box 12: the origin permit's number (re-exports), for the annual report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_permit: Option<String>,
}

/// What uses are checked against: the facts of one permit version, small enough to keep on the
/// ledger's version item so that a verification is one read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermitFacts {
    /// Box 1 document type code (E, R, I, O).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_type: Option<String>,
    /// Box 2: first day of validity (else the issue date).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<NaiveDate>,
    /// Box 2: last day of validity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<NaiveDate>,
    /// Box 4: the country of export.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exporter_country: Option<CountryCode>,
    /// Box 3a: the country of import.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub importer_country: Option<CountryCode>,
    /// The blocks.
    #[serde(default)]
    pub blocks: Vec<BlockFacts>,
    /// The number of the permit of the same issuer this one replaces, when it names one
    /// ([`replaced_permit_number`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
    /// Box 5a: the purpose code, for the annual report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// Box 13: the day of issue, which decides the year of a permit in an annual report on
    /// the permitted basis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_on: Option<NaiveDate>,
}

/// The `type_code` of a header reference that names the permit a permit replaces under a new
/// number (EU Regulation 865/2006 Art. 12 and the national systems that follow it): `ADRPN`,
/// the ePhyto hub's note code for the replaced certificate's number.
pub const REPLACES_TYPE_CODE: &str = "ADRPN";

/// The number of the permit `permit` replaces: a header reference with type code
/// [`REPLACES_TYPE_CODE`] and a number other than the permit's own.
pub fn replaced_permit_number(permit: &Permit) -> Option<String> {
    permit
        .references
        .iter()
        .filter(|r| {
            r.type_code
                .as_deref()
                .is_some_and(|code| code.trim().eq_ignore_ascii_case(REPLACES_TYPE_CODE))
        })
        .filter_map(|r| r.id.as_deref().map(str::trim))
        .find(|number| !number.is_empty() && *number != permit.permit_number.trim())
        .map(str::to_owned)
}

impl PermitFacts {
    /// The facts of a permit.
    pub fn of(permit: &Permit) -> Self {
        PermitFacts {
            document_type: permit
                .document_type
                .as_ref()
                .map(|code| code.as_str().to_owned()),
            valid_from: permit
                .valid_from
                .or(permit.issue_date)
                .map(|date| date.date()),
            valid_until: permit.valid_until.map(|date| date.date()),
            exporter_country: permit.exporting_country(),
            importer_country: permit.importing_country(),
            blocks: permit
                .blocks
                .iter()
                .map(|block| BlockFacts {
                    id: block.id.trim().to_owned(),
                    scientific_name: block.scientific_name.clone(),
                    term: block.term.as_ref().map(|term| term.as_str().to_owned()),
                    quantity: block.quantity.clone(),
                    endorsed: block
                        .endorsement
                        .as_ref()
                        .and_then(|endorsement| endorsement.quantity.clone()),
                    appendix: block.appendix.as_ref().map(|a| a.as_str().to_owned()),
                    source: block.source.as_ref().map(|s| s.as_str().to_owned()),
                    origin: block
                        .origin
                        .as_ref()
                        .and_then(|o| o.country.as_ref())
                        .map(|c| c.as_str().to_owned()),
                    origin_permit: block
                        .origin
                        .as_ref()
                        .and_then(|o| o.permit_number.as_deref())
                        .map(str::trim)
                        .filter(|number| !number.is_empty())
                        .map(str::to_owned),
                })
                .collect(),
            replaces: replaced_permit_number(permit),
            purpose: permit.purpose.as_ref().map(|p| p.as_str().to_owned()),
            issued_on: permit.issue_date.map(|date| date.date()),
        }
    }

    /// The permit as far as the facts tell it (blocks with species, Appendix, source and origin;
    /// the exporter's country): enough for the `listing` tier
    /// ([`crate::validate_listing`]) at the border without reading the permit itself.
    pub fn listing_view(&self) -> Permit {
        use crate::model::{Address, Block, CountryReference, Party};
        Permit {
            exporter: self.exporter_country.map(|country| Party {
                address: Address {
                    country: Some(Coded::Known(country)),
                    ..Address::default()
                },
                ..Party::default()
            }),
            blocks: self
                .blocks
                .iter()
                .map(|b| Block {
                    id: b.id.clone(),
                    scientific_name: b.scientific_name.clone(),
                    appendix: b.appendix.as_deref().map(Coded::parse),
                    source: b.source.as_deref().map(Coded::parse),
                    origin: b.origin.as_deref().map(|country| CountryReference {
                        country: Some(Coded::parse(country)),
                        ..CountryReference::default()
                    }),
                    quantity: b.quantity.clone(),
                    ..Block::default()
                })
                .collect(),
            ..Permit::default()
        }
    }

    fn block(&self, id: &str) -> Option<&BlockFacts> {
        let id = id.trim();
        self.blocks
            .iter()
            .find(|block| block.id.eq_ignore_ascii_case(id))
    }
}

/// Where the ledger's copy of a permit came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "origin", rename_all = "snake_case")]
pub enum PermitOrigin {
    /// Issued by this deployment's Management Authority.
    Issued,
    /// Received electronically from its issuer.
    Received {
        /// The sender (the issuer).
        from: CountryCode,
        /// When it was received (RFC 3339).
        at: String,
    },
}

/// The state of a permit on record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PermitState {
    /// In force.
    Valid,
    /// Cancelled by its issuer.
    Cancelled {
        /// The issuer's reason, when given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Replaced by another permit (EU Regulation 865/2006 Art. 12 and the systems that follow
    /// it: the replacement names the permit it replaces).
    Replaced {
        /// The replacing permit's number.
        by: String,
    },
}

/// What the ledger knows about a permit: its current version, the facts of that version, its
/// state and where it came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermitOnRecord {
    /// The permit.
    pub id: PermitId,
    /// The current version (1 for a permit never re-issued).
    pub version: u32,
    /// Its facts.
    pub facts: PermitFacts,
    /// In force, cancelled or replaced.
    pub state: PermitState,
    /// Issued here or received.
    #[serde(flatten)]
    pub origin: PermitOrigin,
}

/// A use the ledger recorded before.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UseOnRecord {
    /// The use as reported.
    #[serde(rename = "use")]
    pub reported: PermitUse,
    /// When it was recorded (RFC 3339).
    pub recorded_at: String,
    /// The rule ids of the findings recorded with it.
    #[serde(default)]
    pub rules: Vec<String>,
}

/// The balance of one block: permitted, exported and imported quantities (box 11, box 14 and
/// the import confirmations), in the permit's unit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockBalance {
    /// The block letter.
    pub block: String,
    /// Box 7.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scientific_name: Option<String>,
    /// The unit code (`None`: number of specimens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Box 11.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permitted: Option<Decimal>,
    /// Sum of the export endorsements.
    pub exported: Decimal,
    /// Sum of the import confirmations.
    pub imported: Decimal,
    /// What may still be used: permitted less exported (less imported for a permit never
    /// endorsed at export, such as an import permit); never below zero.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining: Option<Decimal>,
}

/// The balance of every block of a permit after the uses on record. Refusals move nothing; a
/// use's block the permit does not have is left out (it was reported as a finding).
pub fn balance(facts: &PermitFacts, uses: &[UseOnRecord]) -> Vec<BlockBalance> {
    facts
        .blocks
        .iter()
        .map(|block| {
            let sum = |kind: UseKind| -> Decimal {
                uses.iter()
                    .filter(|used| used.reported.kind == kind)
                    .flat_map(|used| used.reported.blocks.iter())
                    .filter(|used| used.block.trim().eq_ignore_ascii_case(&block.id))
                    .map(|used| used.quantity.value)
                    .sum()
            };
            // Exported: the endorsements recorded here, or the box 14 of the permit as its
            // issuer endorsed it (an importing MA learns the export from the endorsed permit).
            let endorsed = block
                .endorsed
                .as_ref()
                .map_or(Decimal::ZERO, |quantity| quantity.value);
            let exported = sum(UseKind::ExportEndorsement).max(endorsed);
            let imported = sum(UseKind::ImportConfirmation);
            let permitted = block.quantity.as_ref().map(|quantity| quantity.value);
            let consumed = if exported > Decimal::ZERO {
                exported
            } else {
                imported
            };
            BlockBalance {
                block: block.id.clone(),
                scientific_name: block.scientific_name.clone(),
                unit: unit_code(block.quantity.as_ref()),
                permitted,
                exported,
                imported,
                remaining: permitted.map(|permitted| (permitted - consumed).max(Decimal::ZERO)),
            }
        })
        .collect()
}

fn unit_code(quantity: Option<&Quantity>) -> Option<String> {
    quantity?.unit.as_ref().map(|unit| unit.as_str().to_owned())
}

/// The unit of a quantity for comparison: no unit and `NO` are both a number of specimens.
fn same_unit(a: Option<&Coded<Unit>>, b: Option<&Coded<Unit>>) -> bool {
    let norm = |unit: Option<&Coded<Unit>>| -> Option<String> {
        let code = unit?.as_str().trim().to_ascii_uppercase();
        (!code.is_empty() && code != "NO").then_some(code)
    };
    norm(a) == norm(b)
}

macro_rules! use_rules {
    ($( $name:ident = $id:literal, $severity:ident, [$($permit_box:literal),*], $description:literal; )+) => {
        $( const $name: RuleInfo = RuleInfo {
            id: $id,
            tier: Tier::Use,
            severity: Severity::$severity,
            boxes: &[$($permit_box),*],
            description: $description,
        }; )+

        /// Every rule [`check_use_form`] and [`check_use`] apply.
        pub const USE_RULES: &[RuleInfo] = &[$($name),+];
    };
}

use_rules! {
    // The use itself: refused when broken (the sender gets the finding).
    USE_PERMIT_ID = "use-permit-id", Error, ["1", "6"],
        "The use names the permit by its issuing country (ISO 3166-1 alpha-2) and its number (at most 35 characters).";
    USE_REPORTER = "use-reporter", Error, [],
        "The use names the country whose customs recorded it (ISO 3166-1 alpha-2).";
    USE_DECLARATION = "use-declaration-missing", Error, ["14"],
        "Export endorsements and import confirmations give the customs declaration number (at most 35 characters).";
    USE_BLOCKS = "use-blocks-missing", Error, ["14"],
        "Export endorsements and import confirmations give the quantity of at least one block, each block once.";
    USE_QUANTITY = "use-quantity-not-positive", Error, ["14"],
        "Each quantity is above zero, and dead on arrival is between zero and the quantity.";
    USE_REASON = "use-reason-missing", Error, [],
        "A border refusal gives its reason.";
    USE_TEXT = "use-text-too-long", Error, [],
        "Names and reasons are at most 512 characters, identifiers at most 35.";
    // The use against the permit on record: recorded, and errors raise alerts.
    PERMIT_NOT_RECEIVED = "use-permit-not-received", Error, ["1"],
        "The permit was received electronically from its issuer: a paper permit that never was may be forged (or its delivery is late; the use is checked again when it arrives).";
    PERMIT_NOT_ISSUED = "use-permit-not-issued", Error, ["1"],
        "A permit of this Management Authority was issued under this number.";
    PERMIT_CANCELLED = "use-permit-cancelled", Error, ["1"],
        "The permit is not cancelled.";
    PERMIT_REPLACED = "use-permit-replaced", Error, ["1"],
        "The permit (or the version customs saw) is the one in force, not one replaced (EU Regulation 865/2006 Art. 12: two permits for one shipment never stand side by side).";
    BEFORE_VALIDITY = "use-before-validity", Error, ["2"],
        "The shipment is not examined before the permit's first day of validity (or issue).";
    AFTER_VALIDITY = "use-after-validity", Error, ["2"],
        "The shipment is examined by the permit's last day of validity (Convention Art. VI para. 2: export permits six months).";
    SECOND_CONSIGNMENT = "use-second-consignment", Error, ["14"],
        "A permit covers one consignment (Convention Art. VI para. 6): a second use of the same kind under another declaration is a second consignment.";
    BLOCK_UNKNOWN = "use-block-unknown", Error, ["7", "14"],
        "Each block of the use is a block of the permit.";
    UNIT_DIFFERS = "use-unit-differs", Error, ["11", "14"],
        "The quantity is in the unit of the quantity permitted (box 11).";
    ABOVE_PERMITTED = "use-quantity-above-permitted", Error, ["11", "14"],
        "The quantities used, this use included, do not exceed the quantity permitted (box 11).";
    IMPORT_ABOVE_EXPORTED = "use-import-above-exported", Error, ["14"],
        "The quantity arriving does not exceed the quantity endorsed at export.";
    WRONG_COUNTRY = "use-wrong-country", Error, ["3", "4"],
        "An export endorsement comes from the permit's country of export (box 4), an import confirmation from its country of import (box 3).";
    DEAD_ON_ARRIVAL = "use-dead-on-arrival", Warning, ["14"],
        "Live specimens arrived alive (Convention Art. VIII para. 3 asks for minimal risk of injury and cruel treatment).";
    REFUSED = "use-border-refusal", Warning, ["14"],
        "The shipment was stopped or the permit refused at a border.";
}

fn finding(
    rule: &RuleInfo,
    field: impl Into<String>,
    permit_box: &str,
    message: String,
) -> Finding {
    Finding::new(
        rule.severity,
        rule.tier,
        rule.id,
        field,
        "",
        permit_box,
        message,
    )
}

/// The checks a use must pass to be recorded at all: who, which permit, which declaration,
/// which quantities. A use with errors here is refused with these findings (nothing is
/// recorded), as a permit with validation errors is.
pub fn check_use_form(used: &PermitUse) -> Vec<Finding> {
    let mut out = Vec::new();
    let number = used.permit.number.trim();
    if used.permit.issuer.trim().parse::<CountryCode>().is_err() {
        out.push(finding(
            &USE_PERMIT_ID,
            "permit.issuer",
            "6",
            format!(
                "the issuing country {:?} is not an ISO 3166-1 alpha-2 code",
                used.permit.issuer
            ),
        ));
    }
    if number.is_empty() || number.chars().count() > MAX_USE_ID_CHARS || number.contains('\0') {
        out.push(finding(
            &USE_PERMIT_ID,
            "permit.number",
            "1",
            format!(
                "the permit number is empty, longer than {MAX_USE_ID_CHARS} characters or holds a NUL"
            ),
        ));
    }
    if used.reporter().is_none() {
        out.push(finding(
            &USE_REPORTER,
            "reported_by",
            "",
            format!(
                "the reporting country {:?} is not an ISO 3166-1 alpha-2 code",
                used.reported_by
            ),
        ));
    }
    let declaration = used.declaration_number.trim();
    if used.kind.is_consignment() && declaration.is_empty() {
        out.push(finding(
            &USE_DECLARATION,
            "declaration_number",
            "14",
            format!(
                "a {} gives the customs declaration number",
                used.kind.label()
            ),
        ));
    }
    if declaration.chars().count() > MAX_USE_ID_CHARS || declaration.contains('\0') {
        out.push(finding(
            &USE_DECLARATION,
            "declaration_number",
            "14",
            format!("the customs declaration number is longer than {MAX_USE_ID_CHARS} characters or holds a NUL"),
        ));
    }
    if used.kind.is_consignment() && used.blocks.is_empty() {
        out.push(finding(
            &USE_BLOCKS,
            "blocks",
            "14",
            format!(
                "a {} gives the quantity of each block used",
                used.kind.label()
            ),
        ));
    }
    if used.blocks.len() > MAX_USE_BLOCKS {
        out.push(finding(
            &USE_BLOCKS,
            "blocks",
            "14",
            format!("a use names at most {MAX_USE_BLOCKS} blocks"),
        ));
        return out;
    }
    for (index, block) in used.blocks.iter().enumerate() {
        let id = block.block.trim();
        if id.is_empty() || id.chars().count() > MAX_USE_ID_CHARS {
            out.push(finding(
                &USE_BLOCKS,
                format!("blocks[{index}].block"),
                "14",
                "the block letter is empty or too long".to_owned(),
            ));
        } else if used.blocks[..index]
            .iter()
            .any(|other| other.block.trim().eq_ignore_ascii_case(id))
        {
            out.push(finding(
                &USE_BLOCKS,
                format!("blocks[{index}].block"),
                "14",
                format!("block {id} is named twice"),
            ));
        }
        if block.quantity.value <= Decimal::ZERO {
            out.push(finding(
                &USE_QUANTITY,
                format!("blocks[{index}].quantity.value"),
                "14",
                format!(
                    "block {id}: the quantity {} is not above zero",
                    block.quantity.value
                ),
            ));
        }
        if let Some(dead) = block.dead_on_arrival {
            if dead < Decimal::ZERO || dead > block.quantity.value {
                out.push(finding(
                    &USE_QUANTITY,
                    format!("blocks[{index}].dead_on_arrival"),
                    "14",
                    format!(
                        "block {id}: {dead} dead on arrival is not between zero and the {} inspected",
                        block.quantity.value
                    ),
                ));
            }
        }
    }
    if used.kind == UseKind::BorderRefusal
        && used
            .reason
            .as_deref()
            .is_none_or(|reason| reason.trim().is_empty())
    {
        out.push(finding(
            &USE_REASON,
            "reason",
            "",
            "a border refusal gives its reason".to_owned(),
        ));
    }
    let long = |text: Option<&str>, max: usize| text.is_some_and(|t| t.chars().count() > max);
    for (field, text, max) in [
        (
            "customs_office",
            used.customs_office.as_deref(),
            MAX_USE_TEXT_CHARS,
        ),
        ("officer", used.officer.as_deref(), MAX_USE_TEXT_CHARS),
        ("reason", used.reason.as_deref(), MAX_USE_TEXT_CHARS),
        (
            "port.id",
            used.port.as_ref().and_then(|port| port.id.as_deref()),
            MAX_USE_ID_CHARS,
        ),
        (
            "port.name",
            used.port.as_ref().and_then(|port| port.name.as_deref()),
            MAX_USE_TEXT_CHARS,
        ),
    ] {
        if long(text, max) {
            out.push(finding(
                &USE_TEXT,
                field,
                "",
                format!("{field} is longer than {max} characters"),
            ));
        }
    }
    out
}

/// Checks a use against the permit on record and the uses recorded before it.
///
/// `own_country` is this deployment's Management Authority: a permit it issued that the ledger
/// does not know was never issued; a foreign one was never received (the paper may be forged,
/// or its delivery late). `record` is `None` for an unknown permit. `earlier` are the uses
/// recorded before, this one excluded. The use is assumed to pass [`check_use_form`].
pub fn check_use(
    own_country: CountryCode,
    record: Option<&PermitOnRecord>,
    earlier: &[UseOnRecord],
    used: &PermitUse,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(record) = record else {
        let issuer = used.permit.issuer.trim();
        let number = used.permit.number.trim();
        out.push(if used.permit_id().is_some_and(|id| id.issuer == own_country) {
            finding(
                &PERMIT_NOT_ISSUED,
                "permit.number",
                "1",
                format!("no permit {number} was issued by this Management Authority ({issuer})"),
            )
        } else {
            finding(
                &PERMIT_NOT_RECEIVED,
                "permit.number",
                "1",
                format!(
                    "permit {issuer}/{number} was never received electronically from {issuer}: \
                     the paper permit may be forged (or its delivery is late; the use is checked again when it arrives)"
                ),
            )
        });
        if used.kind == UseKind::BorderRefusal {
            out.push(refused(used));
        }
        return out;
    };
    let facts = &record.facts;
    match &record.state {
        PermitState::Valid => {}
        PermitState::Cancelled { reason } => out.push(finding(
            &PERMIT_CANCELLED,
            "permit.number",
            "1",
            format!(
                "permit {} was cancelled by its issuer{}",
                record.id,
                reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
        )),
        PermitState::Replaced { by } => out.push(finding(
            &PERMIT_REPLACED,
            "permit.number",
            "1",
            format!(
                "permit {} was replaced by permit {by}: only the replacement may be used",
                record.id
            ),
        )),
    }
    if let Some(version) = used.permit.version {
        if version < record.version {
            out.push(finding(
                &PERMIT_REPLACED,
                "permit.version",
                "1",
                format!(
                    "version {version} of permit {} was replaced by version {}",
                    record.id, record.version
                ),
            ));
        }
    }
    let day = used.date.date();
    if let Some(from) = facts.valid_from {
        if day < from {
            out.push(finding(
                &BEFORE_VALIDITY,
                "date",
                "2",
                format!("examined on {day}, before the permit's first day of validity ({from})"),
            ));
        }
    }
    if let Some(until) = facts.valid_until {
        if day > until {
            out.push(finding(
                &AFTER_VALIDITY,
                "date",
                "2",
                format!("examined on {day}, after the permit's last day of validity ({until})"),
            ));
        }
    }
    if let Some(reporter) = used.reporter() {
        let (expected, role) = match used.kind {
            UseKind::ExportEndorsement => (facts.exporter_country, "export (box 4)"),
            UseKind::ImportConfirmation => (facts.importer_country, "import (box 3)"),
            UseKind::BorderRefusal => (None, ""),
        };
        if let Some(expected) = expected {
            if expected != reporter {
                out.push(finding(
                    &WRONG_COUNTRY,
                    "reported_by",
                    if used.kind == UseKind::ExportEndorsement { "4" } else { "3" },
                    format!(
                        "a {} reported by {reporter}, but the permit's country of {role} is {expected}",
                        used.kind.label()
                    ),
                ));
            }
        }
    }
    if used.kind.is_consignment() {
        let declaration = used.declaration_number.trim();
        if let Some(first) = earlier.iter().find(|other| {
            other.reported.kind == used.kind
                && other.reported.declaration_number.trim() != declaration
        }) {
            out.push(finding(
                &SECOND_CONSIGNMENT,
                "declaration_number",
                "14",
                format!(
                    "permit {} was already used for a {} under declaration {} on {}: a permit covers one consignment",
                    record.id,
                    used.kind.label(),
                    first.reported.declaration_number.trim(),
                    first.reported.date.date()
                ),
            ));
        }
    }
    let before = balance(facts, earlier);
    for (index, block) in used.blocks.iter().enumerate() {
        let id = block.block.trim();
        let field = format!("blocks[{index}]");
        let Some(permitted) = facts.block(id) else {
            out.push(finding(
                &BLOCK_UNKNOWN,
                format!("{field}.block"),
                "14",
                format!(
                    "permit {} has no block {id} (its blocks: {})",
                    record.id,
                    facts
                        .blocks
                        .iter()
                        .map(|b| b.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
            continue;
        };
        let Some(permitted_quantity) = &permitted.quantity else {
            continue;
        };
        if !same_unit(
            block.quantity.unit.as_ref(),
            permitted_quantity.unit.as_ref(),
        ) {
            let show = |q: &Quantity| {
                q.unit
                    .as_ref()
                    .map(|u| u.as_str().to_owned())
                    .unwrap_or_else(|| "specimens".into())
            };
            out.push(finding(
                &UNIT_DIFFERS,
                format!("{field}.quantity.unit"),
                "11",
                format!(
                    "block {id}: the quantity is in {}, the permit's in {}",
                    show(&block.quantity),
                    show(permitted_quantity)
                ),
            ));
            continue;
        }
        let so_far = before
            .iter()
            .find(|balance| balance.block.eq_ignore_ascii_case(id));
        let (used_before, exported) = match (used.kind, so_far) {
            (UseKind::ExportEndorsement, Some(b)) => (b.exported, b.exported),
            (UseKind::ImportConfirmation, Some(b)) => (b.imported, b.exported),
            _ => (Decimal::ZERO, Decimal::ZERO),
        };
        if used.kind.is_consignment() {
            let total = used_before + block.quantity.value;
            if total > permitted_quantity.value {
                out.push(finding(
                    &ABOVE_PERMITTED,
                    format!("{field}.quantity.value"),
                    "11",
                    if used_before > Decimal::ZERO {
                        format!(
                            "block {id}: {} now, {used_before} before, {total} in all, above the {} permitted",
                            block.quantity.value, permitted_quantity.value
                        )
                    } else {
                        format!(
                            "block {id}: {} {}, above the {} permitted",
                            block.quantity.value,
                            if used.kind == UseKind::ExportEndorsement { "exported" } else { "arrived" },
                            permitted_quantity.value
                        )
                    },
                ));
            }
        }
        if used.kind == UseKind::ImportConfirmation
            && exported > Decimal::ZERO
            && used_before + block.quantity.value > exported
        {
            out.push(finding(
                &IMPORT_ABOVE_EXPORTED,
                format!("{field}.quantity.value"),
                "14",
                format!(
                    "block {id}: {} arrived, more than the {exported} endorsed at export",
                    used_before + block.quantity.value
                ),
            ));
        }
        if let Some(dead) = block.dead_on_arrival.filter(|dead| *dead > Decimal::ZERO) {
            out.push(finding(
                &DEAD_ON_ARRIVAL,
                format!("{field}.dead_on_arrival"),
                "14",
                format!(
                    "block {id}: {dead} of {} specimens arrived dead",
                    block.quantity.value
                ),
            ));
        }
    }
    if used.kind == UseKind::BorderRefusal {
        out.push(refused(used));
    }
    out
}

/// The rule ids of the findings with severity error: a use's alerts.
pub fn alert_rules(findings: &[Finding]) -> impl Iterator<Item = &str> {
    findings
        .iter()
        .filter(|f| f.is_error())
        .map(|f| f.rule.as_str())
}

fn refused(used: &PermitUse) -> Finding {
    finding(
        &REFUSED,
        "reason",
        "14",
        format!(
            "refused at the border by {}{}: {}",
            used.reported_by.trim(),
            used.port
                .as_ref()
                .and_then(|port| port.id.as_deref().or(port.name.as_deref()))
                .map(|port| format!(" at {port}"))
                .unwrap_or_default(),
            used.reason.as_deref().unwrap_or("").trim()
        ),
    )
}

/// Where a shipment is being cleared, for [`verify`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Border {
    /// At export (the use would be an export endorsement).
    Export,
    /// At import (an import confirmation).
    Import,
}

impl Border {
    /// The use clearing at this border would record.
    pub fn use_kind(self) -> UseKind {
        match self {
            Border::Export => UseKind::ExportEndorsement,
            Border::Import => UseKind::ImportConfirmation,
        }
    }
}

/// What customs asks before clearing a shipment: at which border, by which country, on which
/// day, and (optionally) the quantities declared per block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyRequest {
    /// The permit.
    pub id: PermitId,
    /// Export or import.
    pub at: Border,
    /// The country asking (this deployment's country, or the agency's).
    pub by: CountryCode,
    /// The day of the shipment.
    pub on: NaiveDate,
    /// Declared quantities (block letter, quantity in the permit's unit); empty: none declared.
    pub declared: Vec<(String, Decimal)>,
}

/// The answer to a [`VerifyRequest`]: everything a customs officer needs from the ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// `ISSUER/number`.
    pub permit: String,
    /// True when no finding is an error: the permit may be used for this shipment.
    pub usable: bool,
    /// The permit on record, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<PermitOnRecord>,
    /// The balance per block.
    pub balance: Vec<BlockBalance>,
    /// The uses so far, oldest first.
    pub uses: Vec<UseOnRecord>,
    /// The findings the shipment would raise.
    pub findings: Vec<Finding>,
}

/// Answers a verification: the use that clearing the shipment would record, checked against the
/// permit on record and the uses so far, without recording anything.
pub fn verify(
    own_country: CountryCode,
    request: &VerifyRequest,
    record: Option<&PermitOnRecord>,
    uses: &[UseOnRecord],
) -> Verification {
    let kind = request.at.use_kind();
    let unit_of = |block: &str| -> Option<Coded<Unit>> {
        record?.facts.block(block)?.quantity.as_ref()?.unit.clone()
    };
    let hypothetical = PermitUse {
        kind,
        permit: UsedPermit {
            issuer: request.id.issuer.to_string(),
            number: request.id.number.clone(),
            version: None,
        },
        reported_by: request.by.to_string(),
        // A declaration no earlier use has: any earlier use of this kind is another consignment.
        declaration_number: "\u{1}verification".to_owned(),
        date: Timestamp::Date(request.on),
        port: None,
        customs_office: None,
        officer: None,
        blocks: request
            .declared
            .iter()
            .map(|(block, value)| UseBlock {
                block: block.clone(),
                quantity: Quantity {
                    value: *value,
                    unit: unit_of(block),
                },
                dead_on_arrival: None,
            })
            .collect(),
        reason: None,
    };
    let mut findings = check_use(own_country, record, uses, &hypothetical);
    findings.retain(|finding| finding.rule != DEAD_ON_ARRIVAL.id);
    for finding in &mut findings {
        if finding.rule == SECOND_CONSIGNMENT.id {
            finding.field = "permit.number".into();
        }
    }
    let mut sorted = uses.to_vec();
    sorted.sort_by(|a, b| a.recorded_at.cmp(&b.recorded_at));
    Verification {
        permit: request.id.to_string(),
        usable: !findings.iter().any(Finding::is_error),
        balance: record
            .map(|record| balance(&record.facts, &sorted))
            .unwrap_or_default(),
        record: record.cloned(),
        uses: sorted,
        findings,
    }
}

impl fmt::Display for Verification {
    /// The answer as a customs officer reads it: a verdict, the permit, the balance table, the
    /// uses and the findings.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Permit {}: {}",
            self.permit,
            if self.usable {
                "usable for this shipment"
            } else {
                "NOT usable for this shipment"
            }
        )?;
        match &self.record {
            None => writeln!(
                f,
                "  Not on record: never issued here nor received from its issuer."
            )?,
            Some(record) => {
                match &record.origin {
                    PermitOrigin::Issued => writeln!(
                        f,
                        "  Issued by this Management Authority, version {}.",
                        record.version
                    )?,
                    PermitOrigin::Received { from, at } => writeln!(
                        f,
                        "  Received electronically from {from} on {}, version {}.",
                        chrono::DateTime::parse_from_rfc3339(at)
                            .map(|t| t.format("%Y-%m-%d at %H:%M UTC").to_string())
                            .unwrap_or_else(|_| at.clone()),
                        record.version
                    )?,
                }
                let state = match &record.state {
                    PermitState::Valid => "in force".to_owned(),
                    PermitState::Cancelled { reason } => format!(
                        "cancelled{}",
                        reason
                            .as_deref()
                            .map(|r| format!(" ({r})"))
                            .unwrap_or_default()
                    ),
                    PermitState::Replaced { by } => format!("replaced by {by}"),
                };
                let show = |date: Option<NaiveDate>| {
                    date.map(|d| d.to_string())
                        .unwrap_or_else(|| "not given".into())
                };
                writeln!(
                    f,
                    "  State: {state}; valid from {} until {}; export {}, import {}.",
                    show(record.facts.valid_from),
                    show(record.facts.valid_until),
                    record
                        .facts
                        .exporter_country
                        .map(|c| c.to_string())
                        .unwrap_or_else(|| "not given".into()),
                    record
                        .facts
                        .importer_country
                        .map(|c| c.to_string())
                        .unwrap_or_else(|| "not given".into()),
                )?;
            }
        }
        f.write_str(&render_balance_and_uses(&self.balance, &self.uses))?;
        if self.findings.is_empty() {
            writeln!(f, "  No findings.")?;
        } else {
            writeln!(f, "  Findings:")?;
            for finding in &self.findings {
                writeln!(f, "    {finding}")?;
            }
        }
        Ok(())
    }
}

/// The balance table and the uses, as customs officers and `ecites status` show them.
pub fn render_balance_and_uses(balance: &[BlockBalance], uses: &[UseOnRecord]) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_balance_and_uses(&mut out, balance, uses);
    out
}

fn write_balance_and_uses(
    f: &mut impl fmt::Write,
    balance: &[BlockBalance],
    uses: &[UseOnRecord],
) -> fmt::Result {
    if !balance.is_empty() {
        writeln!(
            f,
            "  {:<6} {:<32} {:>10} {:>10} {:>10} {:>10}  unit",
            "block", "species", "permitted", "exported", "imported", "remaining"
        )?;
        for block in balance {
            let show = |v: Option<Decimal>| {
                v.map(|v| v.normalize().to_string())
                    .unwrap_or_else(|| "-".into())
            };
            writeln!(
                f,
                "  {:<6} {:<32} {:>10} {:>10} {:>10} {:>10}  {}",
                block.block,
                block.scientific_name.as_deref().unwrap_or("-"),
                show(block.permitted),
                block.exported.normalize(),
                block.imported.normalize(),
                show(block.remaining),
                block.unit.as_deref().unwrap_or("specimens"),
            )?;
        }
    }
    if uses.is_empty() {
        writeln!(f, "  No use recorded.")?;
    } else {
        writeln!(f, "  Uses:")?;
        for used in uses {
            let reported = &used.reported;
            writeln!(
                f,
                "    {} by {} on {}, declaration {}{}",
                reported.kind.label(),
                reported.reported_by.trim(),
                reported.date.date(),
                if reported.declaration_number.trim().is_empty() {
                    "-"
                } else {
                    reported.declaration_number.trim()
                },
                if used.rules.is_empty() {
                    String::new()
                } else {
                    format!(" (alerts: {})", used.rules.join(", "))
                }
            )?;
        }
    }
    Ok(())
}

/// The permit as the exporting country's customs endorsed it (box 14, Res. Conf. 12.3 Annex 2):
/// the consignment's examination (date, port of export, the customs office and officer) and,
/// per block the use names, the quantity actually exported. Blocks the use does not name are
/// left as they are. Written in the standard XML as `ExaminationTransportEvent`, for the
/// consignment and for each block, as EPIX's final certificates carry it.
pub fn endorse(permit: &mut Permit, used: &PermitUse) {
    use crate::model::{Examination, Party};
    let certifier = match (used.customs_office.as_deref(), used.officer.as_deref()) {
        (None, None) => None,
        (office, officer) => Some(Party {
            id: officer.map(str::to_owned),
            name: Some(
                [office, officer]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            address: crate::model::Address {
                country: used.reporter().map(crate::codes::Coded::Known),
                ..crate::model::Address::default()
            },
        }),
    };
    permit.export_endorsement = Some(Examination {
        date: Some(used.date),
        quantity: None,
        port: used.port.clone(),
        certifier: certifier.clone(),
    });
    for block in &mut permit.blocks {
        let Some(endorsed) = used
            .blocks
            .iter()
            .find(|b| b.block.trim().eq_ignore_ascii_case(block.id.trim()))
        else {
            continue;
        };
        block.endorsement = Some(Examination {
            date: Some(used.date),
            quantity: Some(endorsed.quantity.clone()),
            port: used.port.clone(),
            certifier: None,
        });
    }
}

/// The JSON Schema of a use (`schema/use.schema.json`), generated from [`PermitUse`] so it
/// cannot drift from what is accepted.
pub fn use_json_schema() -> serde_json::Value {
    let mut schema = schemars::schema_for!(PermitUse);
    schema.insert(
        "$id".to_owned(),
        "https://github.com/ecites-exchange/ecites-exchange/schema/use.schema.json".into(),
    );
    schema.insert(
        "title".to_owned(),
        "A customs use of a CITES permit (ecites-exchange)".into(),
    );
    schema.to_value()
}
