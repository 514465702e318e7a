//! Object keys: decoding the keys S3 puts in event notifications, and building the keys we
//! write, with permit numbers escaped so that no number can climb out of its folder or collide
//! with a separator.

use ecites_domain::PermitId;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything except ASCII letters, digits, `-` and `_` is escaped: `/`, `#`, `.` (so `..` is
/// never a path segment), spaces and non-ASCII all become `%XX`.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_');

/// Escapes one key component (a permit number) for use in S3 keys and ledger keys.
pub fn escape_component(text: &str) -> String {
    utf8_percent_encode(text, COMPONENT).to_string()
}

/// Decodes an object key as S3 event notifications carry it: form-urlencoded, so `+` is a space
/// and `%XX` are UTF-8 bytes. (AWS encodes spaces as `+` and keeps `/`; moto also encodes `/` as
/// `%2F`; this decoding handles both.) Invalid UTF-8 is replaced rather than refused, so a key is
/// never lost; such a key then simply fails to fetch and is reported.
pub fn decode_event_key(key: &str) -> String {
    let spaced = key.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

/// Where `ecites species import` writes the deployment's CITES checklist (compact form), and the
/// functions read it from.
pub const SPECIES_CHECKLIST_KEY: &str = "config/species.json";

/// Decodes an object key as EventBridge's S3 events carry it: percent-encoded, with `+` kept as
/// itself (only S3's own notifications turn spaces into `+`).
pub fn decode_eventbridge_key(key: &str) -> String {
    percent_decode_str(key).decode_utf8_lossy().into_owned()
}

/// Where the canonical XML of a permit version goes: `outbox/<ISSUER>/<number>/<sha256>.xml`.
///
/// Keyed by content hash rather than version number so the write can happen before the ledger
/// assigns the version, and a retried write rewrites the same bytes to the same key.
pub fn outbox_key(id: &PermitId, content_sha256: &str) -> String {
    format!(
        "outbox/{}/{}/{content_sha256}.xml",
        id.issuer,
        escape_component(&id.number)
    )
}

/// Where the rejection report of an input goes: `rejected/<original key>.report.json` for an
/// object, `rejected/sqs/<message id>.report.json` for an inline message.
pub fn report_key(source: &InputSource) -> String {
    match source {
        InputSource::Object { key, .. } => format!("rejected/{key}.report.json"),
        InputSource::Message { message_id } => {
            format!("rejected/sqs/{}.report.json", escape_component(message_id))
        }
    }
}

/// Where an input came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputSource {
    /// An S3 object.
    Object {
        /// The bucket.
        bucket: String,
        /// The decoded key.
        key: String,
        /// The object version read, when the bucket is versioned.
        version_id: Option<String>,
    },
    /// The body of an SQS message.
    Message {
        /// The SQS message id.
        message_id: String,
    },
}

impl std::fmt::Display for InputSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InputSource::Object {
                bucket,
                key,
                version_id: None,
            } => write!(f, "s3://{bucket}/{key}"),
            InputSource::Object {
                bucket,
                key,
                version_id: Some(version),
            } => write!(f, "s3://{bucket}/{key}?versionId={version}"),
            InputSource::Message { message_id } => write!(f, "sqs:{message_id}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_keys_decode_plus_percent_and_unicode() {
        assert_eq!(
            decode_event_key("inbox/my+permit%2B1.xml"),
            "inbox/my permit+1.xml"
        );
        assert_eq!(
            decode_event_key("inbox%2Fcaf%C3%A9.json"),
            "inbox/café.json"
        );
        assert_eq!(decode_event_key("inbox/plain.csv"), "inbox/plain.csv");
    }

    #[test]
    fn eventbridge_keys_keep_plus_and_decode_percent() {
        assert_eq!(
            decode_eventbridge_key("inbox/c++%20permit%C3%A9.json"),
            "inbox/c++ permit\u{e9}.json"
        );
    }

    #[test]
    fn permit_numbers_cannot_escape_their_folder() {
        let id = PermitId {
            issuer: "XA".parse().unwrap(),
            number: "../24/XA#1 é".into(),
        };
        let key = outbox_key(&id, "abc");
        assert_eq!(key, "outbox/XA/%2E%2E%2F24%2FXA%231%20%C3%A9/abc.xml");
    }
}
