//! Choosing the format of an input by its content, and decoding it.

use crate::{Decoded, Error};

/// The input formats MA systems send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// The CITES e-permit XML (toolkit v2), bare or in a SOAP envelope.
    Xml,
    /// The ecites JSON form of a permit (or an array of them).
    Json,
    /// The ecites CSV form: one row per block.
    Csv,
}

/// Works out the format of an input.
pub fn detect_format(_bytes: &[u8], _file_name: Option<&str>) -> Result<Format, Error> {
    todo!()
}

/// Decodes an input holding exactly one permit.
pub fn decode(_bytes: &[u8], _format: Format) -> Result<Decoded, Error> {
    todo!()
}

/// Decodes an input holding one or more permits.
pub fn decode_all(_bytes: &[u8], _format: Format) -> Result<Vec<Decoded>, Error> {
    todo!()
}
