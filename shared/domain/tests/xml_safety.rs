//! What the XML reader refuses, and that it never panics whatever it is given.

use ecites_domain::xml::{read_permit, read_permit_with, ReadLimits};
use ecites_domain::Error;
use proptest::prelude::*;

const EPIX: &str = include_str!("fixtures/epix/v2-get-non-final-cites-certificate.xml");
const EPIX_V1: &str = include_str!("fixtures/epix/v1-get-non-final-cites-certificate.xml");

fn error(xml: &str) -> Error {
    match read_permit(xml.as_bytes()) {
        Ok(decoded) => panic!("expected an error, read {:?}", decoded.permit),
        Err(error) => error,
    }
}

#[test]
fn billion_laughs_is_refused_as_a_dtd_before_any_expansion() {
    let xml = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<CITESEPermit><HeaderExchangedDocument><ID>&lol9;</ID></HeaderExchangedDocument></CITESEPermit>"#;
    let error = error(xml);
    assert_eq!(error, Error::DtdForbidden { position: 22 });
    assert!(error.to_string().contains("DOCTYPE"), "{error}");
}

#[test]
fn external_entity_is_refused_as_a_dtd() {
    let xml = r#"<?xml version="1.0"?>
<!DOCTYPE foo [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<CITESEPermit><HeaderExchangedDocument><ID>&xxe;</ID></HeaderExchangedDocument></CITESEPermit>"#;
    let error = error(xml);
    assert!(matches!(error, Error::DtdForbidden { .. }), "{error:?}");
    assert!(!error.to_string().contains("root:"), "{error}");
}

#[test]
fn undefined_entity_without_dtd_is_refused_with_its_name() {
    let xml = "<CITESEPermit><HeaderExchangedDocument><ID>&xxe;</ID></HeaderExchangedDocument></CITESEPermit>";
    let error = error(xml);
    assert!(
        matches!(&error, Error::UnknownEntity { name, .. } if name == "xxe"),
        "{error:?}"
    );
    assert!(error.to_string().contains("&xxe;"), "{error}");
}

#[test]
fn undefined_entity_in_a_unit_attribute_is_refused() {
    let xml = EPIX.replace("unitCode=\"PCS\"", "unitCode=\"&pcs;\"");
    assert!(matches!(error(&xml), Error::UnknownEntity { name, .. } if name == "pcs"));
}

#[test]
fn oversize_input_is_refused_before_parsing() {
    let limits = ReadLimits {
        max_bytes: 1000,
        ..ReadLimits::default()
    };
    let error = read_permit_with(EPIX.as_bytes(), &limits).unwrap_err();
    assert_eq!(
        error,
        Error::TooLarge {
            limit: 1000,
            actual: EPIX.len()
        }
    );
    assert!(error.to_string().contains("limit of 1000 bytes"), "{error}");
    // Even garbage that size is refused for its size, not parsed.
    let garbage = vec![b'<'; 1001];
    assert!(matches!(
        read_permit_with(&garbage, &limits),
        Err(Error::TooLarge { .. })
    ));
}

#[test]
fn nesting_deeper_than_the_limit_is_refused() {
    let depth = 100;
    let xml = format!(
        "<CITESEPermit>{}{}</CITESEPermit>",
        "<a>".repeat(depth),
        "</a>".repeat(depth)
    );
    let error = error(&xml);
    assert!(
        matches!(error, Error::TooDeep { limit: 64, .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("64 levels"), "{error}");

    let limits = ReadLimits {
        max_depth: 8,
        ..ReadLimits::default()
    };
    let error = read_permit_with(EPIX.as_bytes(), &limits).unwrap_err();
    assert!(
        matches!(error, Error::TooDeep { limit: 8, .. }),
        "{error:?}"
    );
    // Self-closing elements count too.
    let xml = format!(
        "<CITESEPermit>{}<b/>{}</CITESEPermit>",
        "<a>".repeat(63),
        "</a>".repeat(63)
    );
    assert!(matches!(
        read_permit(xml.as_bytes()),
        Err(Error::TooDeep { .. })
    ));
}

#[test]
fn mismatched_tags_are_malformed_with_a_position() {
    let xml =
        "<CITESEPermit><HeaderExchangedDocument></SpecifiedSupplyChainConsignment></CITESEPermit>";
    let error = error(xml);
    let Error::MalformedXml { position, message } = &error else {
        panic!("{error:?}");
    };
    assert!(*position > 0 && *position < xml.len() as u64, "{position}");
    assert!(message.contains("HeaderExchangedDocument"), "{message}");
}

#[test]
fn truncated_document_is_malformed() {
    let truncated = &EPIX[..EPIX.len() / 2];
    let error = error(truncated);
    assert!(matches!(error, Error::MalformedXml { .. }), "{error:?}");
    assert!(error.to_string().contains("not well-formed"), "{error}");
}

#[test]
fn bad_markup_and_bad_references_are_malformed() {
    for xml in [
        "<CITESEPermit><ID>a & b</ID></CITESEPermit>",
        "<CITESEPermit><ID>&#xZZ;</ID></CITESEPermit>",
        "<CITESEPermit><ID>&#1;</ID></CITESEPermit>",
        "<CITESEPermit><ID attr=></ID></CITESEPermit>",
        "<CITESEPermit></CITESEPermit></CITESEPermit>",
        "",
        "just text",
    ] {
        let error = error(xml);
        assert!(
            matches!(error, Error::MalformedXml { .. }),
            "{xml:?}: {error:?}"
        );
    }
}

#[test]
fn document_without_a_permit_names_its_root() {
    let error = error("<?xml version=\"1.0\"?><soap:Envelope xmlns:soap=\"x\"><soap:Body><Invoice/></soap:Body></soap:Envelope>");
    assert_eq!(
        error,
        Error::NotAPermit {
            root: "Envelope".into()
        }
    );
    assert!(error.to_string().contains("CITESEPermit"), "{error}");
    assert!(error.to_string().contains("<Envelope>"), "{error}");
}

#[test]
fn non_utf8_input_is_refused_with_the_offset() {
    let mut bytes = b"<CITESEPermit><ID>caf".to_vec();
    bytes.push(0xE9);
    bytes.extend_from_slice(b"</ID></CITESEPermit>");
    assert_eq!(
        read_permit(&bytes).unwrap_err(),
        Error::Undecodable {
            encoding: "UTF-8".into(),
            position: 21
        }
    );
}

/// Small edits of a valid permit: the kind of damage real transports do.
#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, &'static str),
    Delete(usize, usize),
    Truncate(usize),
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    let fragments = prop::sample::select(vec![
        "<",
        ">",
        "&",
        "&amp;",
        "&#0;",
        "&#x110000;",
        "]]>",
        "<![CDATA[",
        "<!--",
        "-->",
        "<?",
        "?>",
        "<!DOCTYPE x>",
        "</urn1:ID>",
        "<urn1:ID>",
        "\"",
        "'",
        "=",
        "/",
        "\u{0}",
        "é",
        "<a/>",
        "&unknown;",
        "<CITESEPermit>",
        "</CITESEPermit>",
        "unitCode=\"x\"",
    ]);
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Flip(at, byte)),
        (any::<usize>(), fragments).prop_map(|(at, text)| Mutation::Insert(at, text)),
        (any::<usize>(), 0usize..64).prop_map(|(at, len)| Mutation::Delete(at, len)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    let len = bytes.len().max(1);
    match *mutation {
        Mutation::Flip(at, byte) => {
            if !bytes.is_empty() {
                bytes[at % len] = byte;
            }
        }
        Mutation::Insert(at, text) => {
            let at = at % (bytes.len() + 1);
            bytes.splice(at..at, text.bytes());
        }
        Mutation::Delete(at, count) => {
            let at = at % len;
            let end = (at + count).min(bytes.len());
            if at < end {
                bytes.drain(at..end);
            }
        }
        Mutation::Truncate(at) => bytes.truncate(at % len),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let _ = read_permit(&bytes);
    }

    #[test]
    fn arbitrary_text_with_markup_never_panics(text in "[<>/&;#xa-z0-9:=\"' \\]\\[!?-]{0,400}") {
        let _ = read_permit(text.as_bytes());
        let _ = read_permit(format!("<CITESEPermit>{text}</CITESEPermit>").as_bytes());
    }

    #[test]
    fn arbitrary_text_inside_a_v1_root_never_panics(text in "[<>/&;#xa-z0-9:=\"' \\]\\[!?-]{0,400}") {
        let _ = read_permit(format!("<CBFShip>{text}</CBFShip>").as_bytes());
    }

    #[test]
    fn mutations_of_the_epix_v1_sample_never_panic(mutations in prop::collection::vec(arb_mutation(), 1..8)) {
        let mut bytes = EPIX_V1.as_bytes().to_vec();
        for mutation in &mutations {
            apply(&mut bytes, mutation);
        }
        let _ = read_permit(&bytes);
        let tight = ReadLimits { max_bytes: 64 * 1024, max_depth: 12 };
        let _ = read_permit_with(&bytes, &tight);
    }

    #[test]
    fn mutations_of_the_epix_sample_never_panic(mutations in prop::collection::vec(arb_mutation(), 1..8)) {
        let mut bytes = EPIX.as_bytes().to_vec();
        for mutation in &mutations {
            apply(&mut bytes, mutation);
        }
        let _ = read_permit(&bytes);
        let tight = ReadLimits { max_bytes: 64 * 1024, max_depth: 12 };
        let _ = read_permit_with(&bytes, &tight);
    }
}

// ---- bounded work ---------------------------------------------------------

fn timed<T>(what: &str, limit: std::time::Duration, run: impl FnOnce() -> T) -> T {
    let start = std::time::Instant::now();
    let result = run();
    let took = start.elapsed();
    assert!(took < limit, "{what} took {took:?}, more than {limit:?}");
    result
}

#[test]
fn tens_of_thousands_of_attributes_are_refused_quickly_at_the_limit() {
    let attributes: String = (0..40_000).map(|i| format!(" a{i}=\"1\"")).collect();
    let xml = format!("<CITESEPermit><HeaderExchangedDocument{attributes}/></CITESEPermit>");
    let error = timed(
        "40,000 attributes",
        std::time::Duration::from_secs(2),
        || read_permit(xml.as_bytes()).unwrap_err(),
    );
    assert!(
        matches!(error, Error::TooManyAttributes { limit: 256, .. }),
        "{error:?}"
    );
    let at_limit: String = (0..256).map(|i| format!(" a{i}=\"1\"")).collect();
    let xml = format!("<CITESEPermit><HeaderExchangedDocument{at_limit}/></CITESEPermit>");
    assert!(read_permit(xml.as_bytes()).is_ok());
}

#[test]
fn a_duplicate_attribute_is_still_refused_past_the_short_list() {
    let mut attributes: String = (0..40).map(|i| format!(" a{i}=\"1\"")).collect();
    attributes.push_str(" a3=\"2\"");
    let xml = format!("<CITESEPermit{attributes}/>");
    let error = read_permit(xml.as_bytes()).unwrap_err();
    assert!(error.to_string().contains("a3"), "{error}");
}

#[test]
fn more_blocks_than_the_limit_are_refused_in_every_format() {
    let item =
        "<IncludedSupplyChainConsignmentItem><ID>A</ID></IncludedSupplyChainConsignmentItem>";
    let xml = format!(
        "<CITESEPermit><SpecifiedSupplyChainConsignment>{}</SpecifiedSupplyChainConsignment></CITESEPermit>",
        item.repeat(30_000)
    );
    let error = timed(
        "30,000 XML blocks",
        std::time::Duration::from_secs(2),
        || read_permit(xml.as_bytes()).unwrap_err(),
    );
    assert!(
        matches!(error, Error::TooManyBlocks { limit: 999, .. }),
        "{error:?}"
    );
    let mut csv = String::from("permit_number,issuer_country,block_id\n");
    for _ in 0..1000 {
        csv.push_str("1,XA,A\n");
    }
    let error = ecites_domain::csv_form::read_permits(csv.as_bytes()).unwrap_err();
    assert!(error.to_string().contains("line 1001"), "{error}");
    let json = format!(
        "{{\"permit_number\": \"1\", \"blocks\": [{}]}}",
        vec!["{\"id\": \"A\"}"; 1000].join(",")
    );
    let error = ecites_domain::json::read_permits(json.as_bytes()).unwrap_err();
    assert!(matches!(error, Error::TooManyBlocks { .. }), "{error:?}");
}

#[test]
fn the_most_blocks_allowed_all_with_one_letter_validate_in_linear_time_with_capped_findings() {
    let mut csv = String::from("permit_number,issuer_country,block_id,term\n");
    for _ in 0..999 {
        csv.push_str("1,XA,A,NOPE\n");
    }
    let decoded = ecites_domain::csv_form::read_permits(csv.as_bytes())
        .unwrap()
        .remove(0);
    let findings = timed("999 blocks", std::time::Duration::from_secs(2), || {
        ecites_domain::check(&decoded)
    });
    assert_eq!(
        findings.len(),
        ecites_domain::validate::MAX_FINDINGS_PER_PERMIT
    );
    assert_eq!(findings.last().unwrap().rule, "findings-capped");
}

// ---- toolkit v1 (CBFShip): the same guarantees ------------------------------

#[test]
fn v1_billion_laughs_is_refused_as_a_dtd_before_any_expansion() {
    let xml = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol9 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
]>
<CBFShip><HeaderExchangedDocument><ID>&lol9;</ID></HeaderExchangedDocument></CBFShip>"#;
    assert_eq!(error(xml), Error::DtdForbidden { position: 22 });
}

#[test]
fn v1_external_entity_inside_the_soap_envelope_is_refused_as_a_dtd() {
    let xml = format!(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE foo [ <!ENTITY xxe SYSTEM \"file:///etc/passwd\"> ]>\n{}",
        EPIX_V1.replace(">XA000000<", ">&xxe;<")
    );
    assert!(matches!(error(&xml), Error::DtdForbidden { .. }));
}

#[test]
fn v1_undefined_entity_is_refused_with_its_name() {
    let xml = EPIX_V1.replace(">XA000000<", ">&xxe;<");
    assert!(matches!(error(&xml), Error::UnknownEntity { name, .. } if name == "xxe"));
    let xml = EPIX_V1.replace("unitCode=\"PCS\"", "unitCode=\"&pcs;\"");
    assert!(matches!(error(&xml), Error::UnknownEntity { name, .. } if name == "pcs"));
}

#[test]
fn v1_oversize_input_is_refused_before_parsing() {
    let limits = ReadLimits {
        max_bytes: 1000,
        ..ReadLimits::default()
    };
    assert_eq!(
        read_permit_with(EPIX_V1.as_bytes(), &limits).unwrap_err(),
        Error::TooLarge {
            limit: 1000,
            actual: EPIX_V1.len()
        }
    );
}

#[test]
fn v1_nesting_deeper_than_the_limit_is_refused() {
    let xml = format!(
        "<CBFShip>{}{}</CBFShip>",
        "<a>".repeat(100),
        "</a>".repeat(100)
    );
    assert!(matches!(error(&xml), Error::TooDeep { limit: 64, .. }));
    // The v1 sample nests its address country two levels deeper than v2 (12 levels with the
    // envelope, in a block's certifying party): a limit of 11 refuses it, 12 reads it.
    let limits = |max_depth| ReadLimits {
        max_depth,
        ..ReadLimits::default()
    };
    assert!(matches!(
        read_permit_with(EPIX_V1.as_bytes(), &limits(11)),
        Err(Error::TooDeep { limit: 11, .. })
    ));
    assert!(read_permit_with(EPIX_V1.as_bytes(), &limits(12)).is_ok());
}

#[test]
fn more_v1_blocks_than_the_limit_are_refused() {
    let item =
        "<IncludedSupplyChainConsignmentItem><ID>A</ID></IncludedSupplyChainConsignmentItem>";
    let xml = format!(
        "<CBFShip><SpecifiedSupplyChainConsignment>{}</SpecifiedSupplyChainConsignment></CBFShip>",
        item.repeat(ecites_domain::model::MAX_BLOCKS + 1)
    );
    assert!(matches!(
        error(&xml),
        Error::TooManyBlocks { limit: 999, .. }
    ));
}

#[test]
fn v1_truncated_document_is_malformed() {
    let truncated = &EPIX_V1[..EPIX_V1.len() / 2];
    assert!(matches!(error(truncated), Error::MalformedXml { .. }));
}
