//! The CSV form: one row per block, the permit's columns repeated on each of its rows.
//!
//! This is what spreadsheets and older permit databases export. A file may hold many permits;
//! rows are grouped into permits by (`issuer_country`, `permit_number`) in order of first
//! appearance, and the permit-level columns of every row of a permit must agree (a difference
//! means the export is inconsistent, and guessing which row is right could silently mis-read a
//! permit, so it is refused naming the line and column).
//!
//! Column names are matched case-insensitively, ignoring surrounding spaces and treating spaces
//! and hyphens as underscores. An unknown column is refused rather than ignored, so a typo cannot
//! drop a box. [`COLUMNS`] lists every column with its box; the README documents them.

use crate::codes::Coded;
use crate::finding::{Finding, Severity, Tier};
use crate::model::{
    Address, Block, CountryReference, Examination, Location, Party, Permit, Quantity, Quota,
    Signatory, Timestamp,
};
use crate::{Decoded, Error};
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::str::FromStr;

/// Whether a column describes the whole permit (repeated on each row) or one block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Repeated on every row of the permit; must be the same on each.
    Permit,
    /// Differs per row: one row is one block.
    Block,
}

/// One column of the CSV form.
#[derive(Clone, Copy, Debug)]
pub struct ColumnInfo {
    /// The column's name in the header row.
    pub name: &'static str,
    /// Permit-level or block-level.
    pub level: Level,
    /// The permit box it fills.
    pub permit_box: &'static str,
    /// What goes in it.
    pub description: &'static str,
}

macro_rules! columns {
    ($( $variant:ident = $name:literal, $level:ident, $box_:literal, $description:literal; )+) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        enum Column { $($variant),+ }

        const COLUMN_OF: &[(&str, Column)] = &[$(($name, Column::$variant)),+];

        /// Every column of the CSV form, in the recommended order.
        pub const COLUMNS: &[ColumnInfo] = &[$(ColumnInfo {
            name: $name,
            level: Level::$level,
            permit_box: $box_,
            description: $description,
        }),+];
    };
}

columns! {
    DocumentType = "document_type", Permit, "1", "E (export), R (re-export), I (import) or O (other)";
    DocumentSubtype = "document_subtype", Permit, "1", "the kind of certificate when the type is O";
    PermitNumber = "permit_number", Permit, "1", "the permit number (required)";
    IssuerCountry = "issuer_country", Permit, "6", "ISO 3166-1 alpha-2 country of the issuing Management Authority (required)";
    IssuingAuthority = "issuing_authority", Permit, "6", "name of the issuing Management Authority";
    IssuingAuthorityAddress = "issuing_authority_address", Permit, "6", "street address of the Management Authority";
    IssuingAuthorityCity = "issuing_authority_city", Permit, "6", "city of the Management Authority";
    ValidFrom = "valid_from", Permit, "2", "first day of validity (YYYY-MM-DD or ISO 8601 date-time)";
    ValidUntil = "valid_until", Permit, "2", "last day of validity";
    ImporterName = "importer_name", Permit, "3", "importer's name";
    ImporterAddress = "importer_address", Permit, "3", "importer's street address";
    ImporterCity = "importer_city", Permit, "3", "importer's city";
    ImporterPostcode = "importer_postcode", Permit, "3", "importer's postcode";
    ImporterCountry = "importer_country", Permit, "3a", "country of import (ISO 3166-1 alpha-2)";
    ExporterName = "exporter_name", Permit, "4", "exporter's or re-exporter's name";
    ExporterAddress = "exporter_address", Permit, "4", "exporter's street address";
    ExporterCity = "exporter_city", Permit, "4", "exporter's city";
    ExporterPostcode = "exporter_postcode", Permit, "4", "exporter's postcode";
    ExporterCountry = "exporter_country", Permit, "4", "country of export (ISO 3166-1 alpha-2)";
    SpecialConditions = "special_conditions", Permit, "5", "special conditions";
    Purpose = "purpose", Permit, "5a", "purpose code (B, E, G, H, L, M, N, P, Q, S, T, Z)";
    SecurityStamp = "security_stamp", Permit, "5b", "security stamp number";
    IssuePlace = "issue_place", Permit, "13", "place of issue";
    IssueDate = "issue_date", Permit, "13", "date of issue";
    Signatory = "signatory", Permit, "13", "name of the signing officer";
    TransportDocument = "transport_document", Permit, "15", "bill of lading or air waybill number";
    BlockId = "block_id", Block, "", "the block's letter (A, B, ...); numbered A, B, ... in row order when absent";
    ScientificName = "scientific_name", Block, "7", "scientific name of the species";
    CommonName = "common_name", Block, "8", "common name";
    Description = "description", Block, "9", "description of the specimens";
    Marks = "marks", Block, "9", "identifying marks, separated by semicolons";
    Term = "term", Block, "9", "CITES term code (LIV, SKI, WAT, ...)";
    Appendix = "appendix", Block, "10", "I, II or III";
    Source = "source", Block, "10", "source code (W, R, D, A, C, F, U, I, O, X, Y)";
    EuAnnex = "eu_annex", Block, "10", "EU or GB Annex (A, B, C, D) beside the CITES Appendix, on European permits";
    Quantity = "quantity", Block, "11", "quantity (a decimal number with a point)";
    Unit = "unit", Block, "11", "CITES unit code (KIL, PCS, ...); empty for a number of specimens";
    QuotaUsed = "quota_used", Block, "11a", "total exported to date this year, this permit included";
    QuotaAnnual = "quota_annual", Block, "11a", "annual export quota";
    QuotaUnit = "quota_unit", Block, "11a", "unit of the quota figures; the block's unit when empty";
    OriginCountry = "origin_country", Block, "12", "country of origin";
    OriginPermit = "origin_permit", Block, "12", "permit number of the country of origin";
    OriginPermitDate = "origin_permit_date", Block, "12", "date of that permit";
    ReexportCountry = "reexport_country", Block, "12a", "country of last re-export";
    ReexportCertificate = "reexport_certificate", Block, "12a", "re-export certificate number";
    ReexportDate = "reexport_date", Block, "12a", "date of that certificate";
    OperationNumber = "operation_number", Block, "12b", "registered operation number";
    AcquisitionDate = "acquisition_date", Block, "12b", "date of acquisition";
    ExportedQuantity = "exported_quantity", Block, "14", "quantity actually exported (endorsement), in the block's unit";
    ExportDate = "export_date", Block, "14", "date of the export endorsement";
    ExportPort = "export_port", Block, "14", "port of export";
}

fn normalise(name: &str) -> String {
    name.trim()
        .trim_start_matches('\u{feff}')
        .to_ascii_lowercase()
        .replace([' ', '-'], "_")
}

/// How to read a CSV export. Every `None` is detected from the file (and the detection is
/// reported as an `info` finding, rule `csv-format-assumed`); the CLI's `--csv-delimiter` and
/// `--decimal-comma` flags set them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CsvOptions {
    /// The field separator: `b','`, `b';'` or `b'\t'`.
    pub delimiter: Option<u8>,
    /// Whether quantities use a decimal comma (`0,35`) rather than a decimal point (`0.35`).
    pub decimal_comma: Option<bool>,
}

/// Reads every permit in a CSV input, detecting its encoding, separator and decimal mark.
pub fn read_permits(bytes: &[u8]) -> Result<Vec<Decoded>, Error> {
    read_permits_with(bytes, &CsvOptions::default())
}

/// The separators spreadsheets use, in order of preference when a header fits several.
const DELIMITERS: [u8; 3] = [b',', b';', b'\t'];

fn delimiter_name(delimiter: u8) -> String {
    match delimiter {
        b'\t' => "tab".to_owned(),
        other => format!("'{}'", char::from(other)),
    }
}

/// The separator of the header row: the one that makes a `permit_number` column, else the one
/// that splits the header into the most columns (quoted text is not counted).
fn detect_delimiter(text: &str) -> u8 {
    let header = text.lines().next().unwrap_or("");
    let split = |delimiter: u8| -> Vec<String> {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .from_reader(header.as_bytes());
        reader
            .records()
            .next()
            .and_then(Result::ok)
            .map(|record| record.iter().map(normalise).collect())
            .unwrap_or_default()
    };
    let names: Vec<(u8, Vec<String>)> = DELIMITERS.iter().map(|d| (*d, split(*d))).collect();
    names
        .iter()
        .find(|(_, names)| names.iter().any(|name| name == "permit_number"))
        .or_else(|| names.iter().max_by_key(|(_, names)| names.len()))
        .map_or(b',', |(delimiter, _)| *delimiter)
}

/// Line numbers of byte offsets, right for every line ending (`\n`, `\r\n`, a lone `\r`):
/// the start offset of each line, searched by bisection.
struct Lines<'a> {
    text: &'a [u8],
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        let bytes = text.as_bytes();
        let mut starts = vec![0];
        for (index, byte) in bytes.iter().enumerate() {
            let ends_line =
                *byte == b'\n' || (*byte == b'\r' && bytes.get(index + 1) != Some(&b'\n'));
            if ends_line {
                starts.push(index + 1);
            }
        }
        Lines {
            text: bytes,
            starts,
        }
    }

    /// The 1-based line of the record starting at byte `offset`. The csv crate's position of a
    /// record after a CRLF is the `\n` (it ends records at the `\r`), and a record never
    /// starts with a line end, so line ends at the offset are stepped over first.
    fn line(&self, offset: u64) -> u64 {
        let mut offset = usize::try_from(offset).unwrap_or(usize::MAX);
        while matches!(self.text.get(offset), Some(b'\r' | b'\n')) {
            offset += 1;
        }
        let index = self.starts.partition_point(|start| *start <= offset);
        index.max(1) as u64
    }
}

/// A number in a CSV cell with the given decimal mark: `12`, `0.35` / `0,35`; with a decimal
/// comma, points may group thousands (`1.234,5`).
fn parse_decimal(value: &str, decimal_comma: bool) -> Option<Decimal> {
    let normal = if decimal_comma {
        let (whole, fraction) = match value.split_once(',') {
            Some((whole, fraction)) => (whole, Some(fraction)),
            None => (value, None),
        };
        let digits = whole.trim_start_matches(['-', '+']);
        let grouped = digits.contains('.');
        if grouped {
            let mut groups = digits.split('.');
            let first = groups.next().unwrap_or("");
            let well_grouped =
                (1..=3).contains(&first.len()) && groups.all(|group| group.len() == 3);
            if !well_grouped {
                return None;
            }
        }
        let whole = whole.replace('.', "");
        match fraction {
            Some(fraction) => format!("{whole}.{fraction}"),
            None => whole,
        }
    } else {
        value.to_owned()
    };
    if normal.contains(',') || normal.ends_with('.') || normal.starts_with('.') {
        return None;
    }
    Decimal::from_str(&normal).ok()
}

/// Reads every permit in a CSV input with the given options (see [`CsvOptions`]).
///
/// The text is decoded by [`crate::text::decode_csv`] (BOM, UTF-8, UTF-16LE, windows-1252).
/// Errors: a header without `permit_number` or `issuer_country`, an unknown or repeated column,
/// a column without a name that holds data, a ragged row, a permit column that differs between
/// the rows of one permit; each names its line (counted right for every line ending and for
/// quoted fields spanning lines) and column.
pub fn read_permits_with(bytes: &[u8], options: &CsvOptions) -> Result<Vec<Decoded>, Error> {
    let decoded = crate::text::decode_csv(bytes);
    let text: &str = &decoded.text;
    let lines = Lines::new(text);
    let delimiter = options.delimiter.unwrap_or_else(|| detect_delimiter(text));
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|error| csv_error(&error, &lines))?
        .clone();
    // Columns without a name are kept aside: ignored when empty throughout (spreadsheets leave
    // them), refused when they hold data.
    let mut columns = Vec::with_capacity(headers.len());
    let mut kept = Vec::with_capacity(headers.len());
    let mut unnamed = Vec::new();
    for (index, header) in headers.iter().enumerate() {
        let name = normalise(header);
        if name.is_empty() {
            unnamed.push(index);
            continue;
        }
        let column = COLUMN_OF
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, column)| *column)
            .ok_or_else(|| Error::Csv {
                line: 1,
                column: Some(header.to_owned()),
                message: format!(
                    "unknown column {header:?} (columns separated by {}); the columns of the CSV form are: {}",
                    delimiter_name(delimiter),
                    COLUMNS
                        .iter()
                        .map(|c| c.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })?;
        if columns.contains(&column) {
            return Err(Error::Csv {
                line: 1,
                column: Some(header.to_owned()),
                message: "the column appears twice".to_owned(),
            });
        }
        columns.push(column);
        kept.push(index);
    }
    for required in [Column::PermitNumber, Column::IssuerCountry] {
        if !columns.contains(&required) {
            return Err(Error::Csv {
                line: 1,
                column: Some(name_of(required).to_owned()),
                message: format!(
                    "this column is required: permits are identified by issuer country and number (the header, read with {} as the separator, names: {})",
                    delimiter_name(delimiter),
                    headers.iter().map(|h| format!("{h:?}")).collect::<Vec<_>>().join(", ")
                ),
            });
        }
    }
    let mut rows: Vec<(u64, csv::StringRecord)> = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|error| csv_error(&error, &lines))?;
        let line = lines.line(record.position().map_or(0, csv::Position::byte));
        if let Some(index) = unnamed.iter().find(|index| !record[**index].is_empty()) {
            return Err(Error::Csv {
                line,
                column: None,
                message: format!(
                    "column {} has no name in the header but holds {:?}; name the column or empty it",
                    index + 1,
                    &record[*index]
                ),
            });
        }
        let record: csv::StringRecord = kept.iter().map(|index| &record[*index]).collect();
        rows.push((line, record));
    }
    let numeric = [
        Column::Quantity,
        Column::QuotaUsed,
        Column::QuotaAnnual,
        Column::ExportedQuantity,
    ];
    let (decimal_comma, decimal_detected) = match options.decimal_comma {
        Some(declared) => (declared, false),
        None => {
            let cells = || {
                rows.iter().flat_map(|(_, record)| {
                    columns
                        .iter()
                        .zip(record.iter())
                        .filter(|(column, _)| numeric.contains(column))
                        .map(|(_, value)| value)
                })
            };
            let comma =
                cells().any(|value| value.contains(',') && parse_decimal(value, true).is_some());
            let point =
                cells().any(|value| value.contains('.') && parse_decimal(value, false).is_some());
            (comma && !point, comma && !point)
        }
    };
    let mut assumed = Vec::new();
    if decoded.encoding != "UTF-8" || decoded.because != "valid UTF-8" {
        assumed.push(format!(
            "encoding {} ({})",
            decoded.encoding, decoded.because
        ));
    }
    if options.delimiter.is_none() && delimiter != b',' {
        assumed.push(format!("separator {}", delimiter_name(delimiter)));
    }
    if decimal_detected {
        assumed.push("decimal comma (quantities such as 0,35)".to_owned());
    }
    let note = (!assumed.is_empty()).then(|| {
        Finding::new(
            Severity::Info,
            Tier::Structure,
            "csv-format-assumed",
            "input",
            "CSV",
            "",
            format!(
                "the CSV was read assuming {}; if that is wrong, convert again with --csv-delimiter or --decimal-comma/--decimal-point",
                assumed.join(", ")
            ),
        )
    });

    let mut groups: Vec<Group> = Vec::new();
    let mut group_of: HashMap<(String, String), usize> = HashMap::new();
    for (line, record) in &rows {
        let (line, record) = (*line, record);
        if record.iter().all(str::is_empty) {
            continue;
        }
        let value_of = |wanted: Column| {
            columns
                .iter()
                .position(|column| *column == wanted)
                .and_then(|index| record.get(index))
                .unwrap_or("")
        };
        let key = (
            value_of(Column::IssuerCountry).to_owned(),
            value_of(Column::PermitNumber).to_owned(),
        );
        if key.1.is_empty() {
            return Err(Error::Csv {
                line,
                column: Some("permit_number".to_owned()),
                message: "the permit number is empty; every row must name its permit".to_owned(),
            });
        }
        let permit_values: Vec<(Column, &str)> = columns
            .iter()
            .zip(record.iter())
            .filter(|(column, _)| level_of(**column) == Level::Permit)
            .map(|(column, value)| (*column, value))
            .collect();
        let index = match group_of.get(&key) {
            Some(index) => {
                let group = &groups[*index];
                for ((column, value), first) in permit_values.iter().zip(&group.permit_values) {
                    if value != first {
                        return Err(Error::Csv {
                            line,
                            column: Some(name_of(*column).to_owned()),
                            message: format!(
                                "permit {}/{} has {value:?} here but {first:?} on line {}; the permit's columns must be the same on each of its rows",
                                key.0, key.1, group.first_line
                            ),
                        });
                    }
                }
                *index
            }
            None => {
                let mut group = Group {
                    decoded: Decoded {
                        permit: Permit::default(),
                        findings: Vec::new(),
                    },
                    permit_values: permit_values.iter().map(|(_, v)| (*v).to_owned()).collect(),
                    first_line: line,
                };
                for (column, value) in &permit_values {
                    let mut sink = Sink {
                        findings: &mut group.decoded.findings,
                        line,
                        column: *column,
                        field: name_of(*column).to_owned(),
                        decimal_comma,
                    };
                    apply_permit_column(*column, value, &mut group.decoded.permit, &mut sink);
                }
                group_of.insert(key, groups.len());
                groups.push(group);
                groups.len() - 1
            }
        };
        let group = &mut groups[index];
        let block_index = group.decoded.permit.blocks.len();
        if block_index >= crate::model::MAX_BLOCKS {
            return Err(Error::TooManyBlocks {
                limit: crate::model::MAX_BLOCKS,
                at: Some(format!("CSV line {line}")),
            });
        }
        let mut block = Block::default();
        let (mut unit, mut quota_unit) = (None, None);
        for (column, value) in columns.iter().zip(record.iter()) {
            match column {
                Column::Unit => unit = non_empty(value).map(Coded::parse),
                Column::QuotaUnit => quota_unit = non_empty(value).map(Coded::parse),
                column if level_of(*column) == Level::Block => {
                    let mut sink = Sink {
                        findings: &mut group.decoded.findings,
                        line,
                        column: *column,
                        field: format!("blocks[{block_index}].{}", name_of(*column)),
                        decimal_comma,
                    };
                    apply_block_column(*column, value, &mut block, &mut sink);
                }
                _ => {}
            }
        }
        finish_block(&mut block, block_index, unit, quota_unit);
        group.decoded.permit.blocks.push(block);
    }
    if groups.is_empty() {
        return Err(Error::Csv {
            line: 2,
            column: None,
            message: "the CSV has a header but no rows".to_owned(),
        });
    }
    Ok(groups
        .into_iter()
        .map(|mut group| {
            if let Some(note) = &note {
                group.decoded.findings.insert(0, note.clone());
            }
            group.decoded
        })
        .collect())
}

struct Group {
    decoded: Decoded,
    permit_values: Vec<String>,
    first_line: u64,
}

/// Where values that cannot be interpreted are reported.
struct Sink<'a> {
    findings: &'a mut Vec<Finding>,
    line: u64,
    column: Column,
    field: String,
    decimal_comma: bool,
}

impl Sink<'_> {
    fn report(&mut self, rule: &str, message: String) {
        let info = COLUMNS[self.column as usize];
        self.findings.push(Finding::new(
            Severity::Error,
            Tier::Structure,
            rule,
            self.field.clone(),
            format!("CSV line {}, column {}", self.line, info.name),
            info.permit_box,
            message,
        ));
    }

    fn timestamp(&mut self, value: &str) -> Option<Timestamp> {
        let value = non_empty(value)?;
        match Timestamp::parse(value) {
            Ok(timestamp) => Some(timestamp),
            Err(error) => {
                let name = COLUMNS[self.column as usize].name;
                self.report("date-format", format!("column {name}: {error}"));
                None
            }
        }
    }

    fn decimal(&mut self, value: &str) -> Option<Decimal> {
        let value = non_empty(value)?;
        match parse_decimal(value, self.decimal_comma) {
            Some(decimal) => Some(decimal),
            None => {
                let name = COLUMNS[self.column as usize].name;
                let example = if self.decimal_comma {
                    "digits with a decimal comma, e.g. 12,5"
                } else {
                    "digits with a decimal point, e.g. 12.5"
                };
                self.report(
                    "number-format",
                    format!("column {name}: {value:?} is not a number (this file uses {example})"),
                );
                None
            }
        }
    }
}

fn name_of(column: Column) -> &'static str {
    COLUMNS[column as usize].name
}

fn level_of(column: Column) -> Level {
    COLUMNS[column as usize].level
}

fn non_empty(value: &str) -> Option<&str> {
    let value = value.trim();
    (!value.is_empty()).then_some(value)
}

fn text(value: &str) -> Option<String> {
    non_empty(value).map(str::to_owned)
}

fn party(slot: &mut Option<Party>) -> &mut Party {
    slot.get_or_insert_with(Party::default)
}

fn address(slot: &mut Option<Party>) -> &mut Address {
    &mut party(slot).address
}

fn apply_permit_column(column: Column, value: &str, permit: &mut Permit, sink: &mut Sink<'_>) {
    if non_empty(value).is_none() {
        return;
    }
    match column {
        Column::DocumentType => permit.document_type = Some(Coded::parse(value)),
        Column::DocumentSubtype => permit.document_subtype = text(value),
        Column::PermitNumber => permit.permit_number = value.trim().to_owned(),
        Column::IssuerCountry => {
            address(&mut permit.issuing_authority).country = Some(Coded::parse(value))
        }
        Column::IssuingAuthority => party(&mut permit.issuing_authority).name = text(value),
        Column::IssuingAuthorityAddress => {
            address(&mut permit.issuing_authority).street = vec![value.to_owned()]
        }
        Column::IssuingAuthorityCity => address(&mut permit.issuing_authority).city = text(value),
        Column::ValidFrom => permit.valid_from = sink.timestamp(value),
        Column::ValidUntil => permit.valid_until = sink.timestamp(value),
        Column::ImporterName => party(&mut permit.importer).name = text(value),
        Column::ImporterAddress => address(&mut permit.importer).street = vec![value.to_owned()],
        Column::ImporterCity => address(&mut permit.importer).city = text(value),
        Column::ImporterPostcode => address(&mut permit.importer).postcode = text(value),
        Column::ImporterCountry => {
            address(&mut permit.importer).country = Some(Coded::parse(value))
        }
        Column::ExporterName => party(&mut permit.exporter).name = text(value),
        Column::ExporterAddress => address(&mut permit.exporter).street = vec![value.to_owned()],
        Column::ExporterCity => address(&mut permit.exporter).city = text(value),
        Column::ExporterPostcode => address(&mut permit.exporter).postcode = text(value),
        Column::ExporterCountry => {
            address(&mut permit.exporter).country = Some(Coded::parse(value))
        }
        Column::SpecialConditions => permit.special_conditions = vec![value.to_owned()],
        Column::Purpose => permit.purpose = Some(Coded::parse(value)),
        Column::SecurityStamp => permit.security_stamp = text(value),
        Column::IssuePlace => {
            permit.issue_place = Some(Location {
                id: None,
                name: text(value),
            })
        }
        Column::IssueDate => permit.issue_date = sink.timestamp(value),
        Column::Signatory => {
            permit.signatory.get_or_insert_with(Signatory::default).name = text(value)
        }
        Column::TransportDocument => permit.transport_document = text(value),
        _ => {}
    }
}

fn origin(block: &mut Block) -> &mut CountryReference {
    block.origin.get_or_insert_with(CountryReference::default)
}

fn reexport(block: &mut Block) -> &mut CountryReference {
    block
        .last_reexport
        .get_or_insert_with(CountryReference::default)
}

fn endorsement(block: &mut Block) -> &mut Examination {
    block.endorsement.get_or_insert_with(Examination::default)
}

fn apply_block_column(column: Column, value: &str, block: &mut Block, sink: &mut Sink<'_>) {
    if non_empty(value).is_none() {
        return;
    }
    match column {
        Column::BlockId => block.id = value.to_owned(),
        Column::ScientificName => block.scientific_name = text(value),
        Column::CommonName => block.common_name = text(value),
        Column::Description => block.description = text(value),
        Column::Marks => {
            block.marks = value.split(';').filter_map(text).collect();
        }
        Column::Term => block.term = Some(Coded::parse(value)),
        Column::Appendix => block.appendix = Some(Coded::parse(value)),
        Column::Source => block.source = Some(Coded::parse(value)),
        Column::EuAnnex => block.eu_annex = Some(Coded::parse(value)),
        Column::Quantity => {
            if let Some(amount) = sink.decimal(value) {
                block.quantity = Some(Quantity {
                    value: amount,
                    unit: None,
                });
            }
        }
        Column::QuotaUsed => {
            if let Some(amount) = sink.decimal(value) {
                block.quota.get_or_insert_with(Quota::default).used_to_date = Some(Quantity {
                    value: amount,
                    unit: None,
                });
            }
        }
        Column::QuotaAnnual => {
            if let Some(amount) = sink.decimal(value) {
                block.quota.get_or_insert_with(Quota::default).annual = Some(Quantity {
                    value: amount,
                    unit: None,
                });
            }
        }
        Column::OriginCountry => origin(block).country = Some(Coded::parse(value)),
        Column::OriginPermit => origin(block).permit_number = text(value),
        Column::OriginPermitDate => {
            let date = sink.timestamp(value);
            origin(block).permit_date = date;
        }
        Column::ReexportCountry => reexport(block).country = Some(Coded::parse(value)),
        Column::ReexportCertificate => reexport(block).permit_number = text(value),
        Column::ReexportDate => {
            let date = sink.timestamp(value);
            reexport(block).permit_date = date;
        }
        Column::OperationNumber => block.operation_number = text(value),
        Column::AcquisitionDate => block.acquisition_date = sink.timestamp(value),
        Column::ExportedQuantity => {
            if let Some(amount) = sink.decimal(value) {
                endorsement(block).quantity = Some(Quantity {
                    value: amount,
                    unit: None,
                });
            }
        }
        Column::ExportDate => {
            let date = sink.timestamp(value);
            endorsement(block).date = date;
        }
        Column::ExportPort => {
            endorsement(block).port = Some(Location {
                id: None,
                name: text(value),
            })
        }
        _ => {}
    }
}

/// Fills what a row leaves implicit: the block letter, and the units. The unit column applies to
/// the quantity, to the exported quantity and (unless `quota_unit` says otherwise) to the quota
/// figures. A unit without a quantity is dropped: the missing quantity is what validation reports.
fn finish_block(
    block: &mut Block,
    index: usize,
    unit: Option<Coded<crate::Unit>>,
    quota_unit: Option<Coded<crate::Unit>>,
) {
    if block.id.is_empty() {
        block.id = block_letter(index);
    }
    if let Some(quantity) = &mut block.quantity {
        quantity.unit = unit.clone();
    }
    if let Some(quota) = &mut block.quota {
        for figure in [&mut quota.used_to_date, &mut quota.annual]
            .into_iter()
            .flatten()
        {
            figure.unit = quota_unit.clone().or_else(|| unit.clone());
        }
    }
    if let Some(quantity) = block.endorsement.as_mut().and_then(|e| e.quantity.as_mut()) {
        quantity.unit = unit;
    }
}

/// A, B, ..., Z, AA, AB, ...: the letters permits use for blocks.
fn block_letter(index: usize) -> String {
    let mut letters = Vec::new();
    let mut n = index + 1;
    while n > 0 {
        let rem = (n - 1) % 26;
        letters.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    letters.reverse();
    String::from_utf8(letters).unwrap_or_default()
}

fn csv_error(error: &csv::Error, lines: &Lines) -> Error {
    let line = error.position().map_or(0, |p| lines.line(p.byte()));
    let message = match error.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!(
            "the row has {len} fields but the header has {expected_len}; check for unquoted commas"
        ),
        csv::ErrorKind::Utf8 { .. } => "the text is not UTF-8".to_owned(),
        _ => error.to_string(),
    };
    Error::Csv {
        line,
        column: None,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::{Source, Term, Unit};

    const TWO_BLOCKS: &str = "\
permit_number,issuer_country,document_type,purpose,valid_until,exporter_name,exporter_country,importer_name,importer_country,scientific_name,term,appendix,source,quantity,unit,origin_country,origin_permit
24XA0001,XA,E,T,2025-06-30,Reptile Farm Ltd,XA,Zoo Wonderland,XB,Python regius,SKI,II,C,120,,,
24XA0001,XA,E,T,2025-06-30,Reptile Farm Ltd,XA,Zoo Wonderland,XB,Crocodylus niloticus,LPS,II,R,2.5,KIL,XC,XC-99
";

    #[test]
    fn rows_of_one_permit_become_its_blocks_in_order() {
        let permits = read_permits(TWO_BLOCKS.as_bytes()).unwrap();
        assert_eq!(permits.len(), 1);
        let permit = &permits[0].permit;
        assert_eq!(permit.id().unwrap().to_string(), "XA/24XA0001");
        assert_eq!(permit.blocks.len(), 2);
        assert_eq!(permit.blocks[0].id, "A");
        assert_eq!(permit.blocks[1].id, "B");
        assert_eq!(permit.blocks[0].term, Some(Coded::Known(Term::SKI)));
        assert_eq!(permit.blocks[1].source, Some(Coded::Known(Source::R)));
        let quantity = permit.blocks[1].quantity.as_ref().unwrap();
        assert_eq!(quantity.value.to_string(), "2.5");
        assert_eq!(quantity.unit, Some(Coded::Known(Unit::KIL)));
        assert_eq!(permit.blocks[0].quantity.as_ref().unwrap().unit, None);
        let origin = permit.blocks[1].origin.as_ref().unwrap();
        assert_eq!(origin.permit_number.as_deref(), Some("XC-99"));
        assert!(permits[0].findings.is_empty());
    }

    #[test]
    fn several_permits_in_one_file_are_kept_apart_by_issuer_and_number() {
        let input = "permit_number,issuer_country,scientific_name\n1,XA,Python regius\n1,XB,Python regius\n1,XA,Boa constrictor\n";
        let permits = read_permits(input.as_bytes()).unwrap();
        assert_eq!(permits.len(), 2);
        assert_eq!(permits[0].permit.blocks.len(), 2);
        assert_eq!(
            permits[1].permit.issuing_country().unwrap().to_string(),
            "XB"
        );
    }

    #[test]
    fn a_permit_column_that_differs_between_rows_is_refused_naming_line_and_column() {
        let input = TWO_BLOCKS.replace(
            "Zoo Wonderland,XB,Crocodylus",
            "Zoo Elsewhere,XB,Crocodylus",
        );
        let error = read_permits(input.as_bytes()).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("line 3"), "{text}");
        assert!(text.contains("importer_name"), "{text}");
    }

    #[test]
    fn an_unknown_column_is_refused_not_ignored() {
        let error = read_permits(b"permit_number,issuer_country,quantty\n1,XA,3\n").unwrap_err();
        assert!(error.to_string().contains("quantty"), "{error}");
    }

    #[test]
    fn header_names_ignore_case_spaces_and_a_byte_order_mark() {
        let input = "\u{feff}Permit Number,Issuer-Country,SCIENTIFIC_NAME\n7,XA,Python regius\n";
        let permits = read_permits(input.as_bytes()).unwrap();
        assert_eq!(permits[0].permit.permit_number, "7");
    }

    #[test]
    fn bad_dates_and_numbers_become_findings_with_line_column_and_box() {
        let input = "permit_number,issuer_country,valid_until,quantity\n1,XA,30/06/2025,ten\n";
        let decoded = read_permits(input.as_bytes()).unwrap().remove(0);
        assert_eq!(decoded.findings.len(), 2);
        let date = &decoded.findings[0];
        assert_eq!(date.rule, "date-format");
        assert_eq!(date.permit_box.as_deref(), Some("2"));
        assert_eq!(date.field, "valid_until");
        assert!(date.path.contains("line 2"));
        let number = &decoded.findings[1];
        assert_eq!(number.field, "blocks[0].quantity");
        assert_eq!(number.permit_box.as_deref(), Some("11"));
    }

    #[test]
    fn missing_identity_columns_are_refused() {
        let error = read_permits(b"permit_number,scientific_name\n1,Python regius\n").unwrap_err();
        assert!(error.to_string().contains("issuer_country"), "{error}");
    }

    #[test]
    fn a_ragged_row_is_refused_with_its_line() {
        let error = read_permits(b"permit_number,issuer_country\n1,XA,extra\n").unwrap_err();
        assert!(error.to_string().contains("line 2"), "{error}");
    }

    fn quantity_of(decoded: &Decoded) -> String {
        decoded.permit.blocks[0]
            .quantity
            .as_ref()
            .map(|q| q.value.to_string())
            .unwrap_or_default()
    }

    fn notes(decoded: &Decoded) -> Vec<&str> {
        decoded
            .findings
            .iter()
            .filter(|f| f.rule == "csv-format-assumed")
            .map(|f| f.message.as_str())
            .collect()
    }

    #[test]
    fn excel_european_csv_reads_with_semicolons_and_decimal_commas_and_says_so() {
        let input =
            "permit_number;issuer_country;quantity;unit\r\n1;XA;0,35;CUM\r\n2;XA;1.234,5;KIL\r\n";
        let permits = read_permits(input.as_bytes()).unwrap();
        assert_eq!(quantity_of(&permits[0]), "0.35");
        assert_eq!(quantity_of(&permits[1]), "1234.5");
        let note = notes(&permits[0]);
        assert_eq!(note.len(), 1);
        assert!(
            note[0].contains("separator ';'") && note[0].contains("decimal comma"),
            "{}",
            note[0]
        );
        assert_eq!(permits[0].findings[0].severity, Severity::Info);
    }

    #[test]
    fn a_plain_comma_separated_utf8_file_needs_no_note() {
        let permits = read_permits(TWO_BLOCKS.as_bytes()).unwrap();
        assert!(notes(&permits[0]).is_empty());
    }

    #[test]
    fn declared_options_override_detection_and_are_not_reported_as_assumed() {
        let input = "permit_number;issuer_country;quantity\n1;XA;2,5\n";
        let options = CsvOptions {
            delimiter: Some(b';'),
            decimal_comma: Some(true),
        };
        let permits = read_permits_with(input.as_bytes(), &options).unwrap();
        assert_eq!(quantity_of(&permits[0]), "2.5");
        assert!(notes(&permits[0]).is_empty());
        let point = CsvOptions {
            delimiter: Some(b';'),
            decimal_comma: Some(false),
        };
        let decoded = read_permits_with(input.as_bytes(), &point)
            .unwrap()
            .remove(0);
        assert_eq!(decoded.findings[0].rule, "number-format");
        assert!(decoded.findings[0].message.contains("decimal point"));
    }

    #[test]
    fn windows_1252_and_utf16_tab_separated_exports_are_decoded() {
        let cp1252 = b"permit_number;issuer_country;importer_name\r\n1;XA;M\xfcller & S\xf6hne\r\n";
        let decoded = read_permits(cp1252).unwrap().remove(0);
        let importer = decoded.permit.importer.as_ref().unwrap();
        assert_eq!(importer.name.as_deref(), Some("Müller & Söhne"));
        assert!(
            notes(&decoded)[0].contains("windows-1252"),
            "{:?}",
            notes(&decoded)
        );
        let mut utf16 = vec![0xFF, 0xFE];
        for unit in "permit_number\tissuer_country\tquantity\r\n1\tXA\t3\r\n".encode_utf16() {
            utf16.extend(unit.to_le_bytes());
        }
        let decoded = read_permits(&utf16).unwrap().remove(0);
        assert_eq!(quantity_of(&decoded), "3");
        let note = notes(&decoded);
        assert!(
            note[0].contains("UTF-16LE") && note[0].contains("tab"),
            "{note:?}"
        );
    }

    #[test]
    fn unnamed_columns_empty_throughout_are_ignored_but_refused_when_they_hold_data() {
        let empty = "permit_number,issuer_country,,\n1,XA,,\n2,XA,,\n";
        assert_eq!(read_permits(empty.as_bytes()).unwrap().len(), 2);
        let inner = "permit_number,,issuer_country\n1,,XA\n";
        assert_eq!(read_permits(inner.as_bytes()).unwrap().len(), 1);
        let data = "permit_number,issuer_country,\n1,XA,\n2,XA,oops\n";
        let error = read_permits(data.as_bytes()).unwrap_err().to_string();
        assert!(
            error.contains("line 3") && error.contains("oops") && error.contains("column 3"),
            "{error}"
        );
    }

    #[test]
    fn finding_lines_are_right_for_every_line_ending_and_multiline_quoted_fields() {
        for (ending, label) in [("\n", "LF"), ("\r\n", "CRLF"), ("\r", "CR")] {
            let input = [
                "permit_number,issuer_country,special_conditions,valid_until",
                "1,XA,\"two\nlines\",2027-01-01",
                "2,XA,plain,2027-02-30",
            ]
            .join(ending);
            let permits = read_permits(input.as_bytes()).unwrap();
            let finding = &permits[1].findings[0];
            assert_eq!(finding.rule, "date-format", "{label}");
            assert_eq!(finding.path, "CSV line 4, column valid_until", "{label}");
        }
    }

    #[test]
    fn a_missing_permit_number_column_names_the_separator_and_the_columns_found() {
        let error = read_permits(b"issuer_country|permit_number\nXA|1\n")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("permit_number") && error.contains("issuer_country|permit_number"),
            "{error}"
        );
    }

    #[test]
    fn block_letters_continue_past_z() {
        assert_eq!(block_letter(0), "A");
        assert_eq!(block_letter(25), "Z");
        assert_eq!(block_letter(26), "AA");
    }

    #[test]
    fn the_column_table_and_the_column_enum_agree() {
        for (index, (name, column)) in COLUMN_OF.iter().enumerate() {
            assert_eq!(*column as usize, index);
            assert_eq!(COLUMNS[index].name, *name);
        }
    }
}
