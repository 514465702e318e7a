//! The domain crate's error type.
//!
//! Every error here is *permanent*: it describes input that will never become readable by
//! retrying. (The domain crate does no I/O, so it has no transient errors; those belong to the
//! crates that talk to AWS and to partners.)

/// Why an input could not be read as a permit at all.
///
/// A permit that *can* be read but breaks rules is not an error: it is read, then reported on
/// with [`crate::Finding`]s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is larger than the configured limit.
    #[error("the input is {actual} bytes, more than the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
        /// The input's size in bytes.
        actual: usize,
    },
    /// The XML nests elements deeper than the configured limit.
    #[error("the XML nests elements more than {limit} levels deep (at byte {position})")]
    TooDeep {
        /// The nesting limit.
        limit: usize,
        /// Byte offset where the limit was crossed.
        position: u64,
    },
    /// A permit has more blocks than [`crate::model::MAX_BLOCKS`].
    #[error("a permit has more than {limit} blocks{}; permits are limited to {limit} blocks", at.as_deref().map(|at| format!(" ({at})")).unwrap_or_default())]
    TooManyBlocks {
        /// The limit.
        limit: usize,
        /// Where the limit was crossed (a byte offset, a CSV line, a JSON permit), for people.
        at: Option<String>,
    },
    /// An XML element has more attributes than the reader accepts.
    #[error("an XML element has more than {limit} attributes (at byte {position}); refused as unreasonable")]
    TooManyAttributes {
        /// The limit (see `xml::MAX_ATTRIBUTES`).
        limit: usize,
        /// Byte offset of the element.
        position: u64,
    },
    /// The XML has a document type declaration. DTDs are refused outright: they are how
    /// entity-expansion ("billion laughs") and external-entity attacks are delivered, and no
    /// permit needs one.
    #[error("the XML has a document type declaration (DOCTYPE) at byte {position}; DTDs and entity declarations are refused for safety")]
    DtdForbidden {
        /// Byte offset of the declaration.
        position: u64,
    },
    /// The XML refers to an entity other than the five predefined ones or a character reference.
    #[error("the XML refers to the undefined entity &{name}; at byte {position}; only the predefined XML entities and character references are allowed")]
    UnknownEntity {
        /// The entity's name.
        name: String,
        /// Byte offset of the reference.
        position: u64,
    },
    /// The input is not well-formed XML.
    #[error("the XML is not well-formed at byte {position}: {message}")]
    MalformedXml {
        /// Byte offset of the problem.
        position: u64,
        /// What the XML parser reported.
        message: String,
    },
    /// The XML could mean more than one thing: a value where the standard allows one occurs
    /// twice (two permit numbers, two issuing countries), a second permit or a second document
    /// follows, content stands outside the root element, or the root is in a foreign namespace.
    /// Refused rather than read "first value wins".
    #[error("the XML is ambiguous at byte {position}: {message}; refused rather than guessing which is meant")]
    Ambiguous {
        /// Byte offset of the element or text that makes it ambiguous.
        position: u64,
        /// What occurs where, naming the element.
        message: String,
    },
    /// Well-formed XML, but no `CITESEPermit` (toolkit v2) or `CBFShip` (toolkit v1) element in
    /// it.
    #[error("no CITESEPermit or CBFShip element found (the document's root is <{root}>); expected the CITES e-permit XML, toolkit v2 or v1")]
    NotAPermit {
        /// The local name of the document's root element.
        root: String,
    },
    /// The JSON form could not be read.
    #[error("the JSON permit is not valid at line {line}, column {column}: {message}")]
    Json {
        /// Line of the problem (1-based).
        line: usize,
        /// Column of the problem (1-based).
        column: usize,
        /// What is wrong, naming the field.
        message: String,
    },
    /// A permit of the JSON form could not be read: a field the form does not know, or it is
    /// not an object.
    #[error("the JSON {}is not a permit of the JSON form: {message}", index.map(|i| format!("array's permit {i} ")).unwrap_or_default())]
    JsonPermit {
        /// The permit's 1-based position in an array, when the input is an array.
        index: Option<usize>,
        /// What is wrong, naming the field.
        message: String,
    },
    /// The CSV form could not be read.
    #[error("the CSV is not valid at line {line}{}: {message}", column.as_deref().map(|c| format!(", column {c}")).unwrap_or_default())]
    Csv {
        /// Line of the problem (1-based, the header is line 1).
        line: u64,
        /// The column's name, when the problem is in one column.
        column: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// The input is none of the supported formats.
    #[error("unrecognised input{}: {reason}; expected the CITES e-permit XML, the ecites JSON form or the ecites CSV form", file.as_deref().map(|f| format!(" {f:?}")).unwrap_or_default())]
    UnrecognisedFormat {
        /// The file name, when there is one.
        file: Option<String>,
        /// Why no format fits.
        reason: String,
    },
    /// The input's bytes are not valid in its encoding (the one its XML declaration or byte
    /// order mark names, or UTF-8 when nothing is declared).
    #[error(
        "the input is not valid {encoding} text (an invalid byte sequence at byte {position})"
    )]
    Undecodable {
        /// The encoding the input declared or was read in.
        encoding: String,
        /// Byte offset of the first invalid sequence, from the start of the input.
        position: usize,
    },
    /// The input's encoding declaration contradicts its bytes (a UTF-16 byte order mark with a
    /// declaration of ISO-8859-1), or names no known encoding.
    #[error("the input's character encoding is contradictory: {message}")]
    EncodingMismatch {
        /// What contradicts what.
        message: String,
    },
}
