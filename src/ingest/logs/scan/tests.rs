use super::super::Record;
use super::{record, special_portable};
use proptest::prelude::*;

fn serde(text: &str) -> Option<Record<'_>> {
    serde_json::from_slice(text.as_bytes()).ok()
}

/// The scanner's promise: when it reads a record, serde reads the same one.
fn agrees(text: &str) -> Result<bool, String> {
    match record(text.as_bytes()) {
        None => Ok(false),
        Some(r) if serde(text).as_ref() == Some(&r) => Ok(true),
        Some(r) => Err(format!(
            "scanner read {r:?}, serde {:?}: {text}",
            serde(text)
        )),
    }
}

const RECORD: &str = r#"{"schemaType":"ModelInvocationLog","schemaVersion":"1.0","timestamp":"2025-11-01T08:00:00Z","accountId":"111122223333","region":"us-east-1","requestId":"r-1","operation":"Converse","modelId":"us.amazon.nova-pro-v1:0","identity":{"arn":"arn:aws:iam::111122223333:user/dev"},"requestMetadata":{"team":"a","b":"c"},"input":{"inputBodyJson":{"serviceTier":"priority","messages":[{"text":"hi \"there\"\n\u00e9","n":[1,-2.5e3,0,true,false,null,{}]}],"imageGenerationConfig":{"numberOfImages":2,"quality":"premium","width":512},"performanceConfig":{"latency":"optimized"},"steps":60},"inputTokenCount":10,"cacheReadInputTokenCount":0,"cacheWriteInputTokenCount":null},"output":{"outputBodyJson":{"x":[1,2,3],"s":"ünïcode ✓"},"outputTokenCount":5},"errorCode":null}"#;

#[test]
fn real_records_are_read_as_serde_reads_them() {
    let text = include_str!("../../../../fixtures/logs/real/records.jsonl");
    for line in text.lines().chain([RECORD]) {
        assert_eq!(agrees(line), Ok(true), "{line}");
    }
}

#[test]
fn what_the_scanner_is_not_sure_of_is_left_to_serde() {
    let cases = [
        // serde reads these (differently or not at all): the scanner must not guess.
        RECORD.replace(
            r#""region":"us-east-1""#,
            r#""region":"us-east-1","region":"x""#,
        ),
        RECORD.replace(r#""r-1""#, r#""r\u002d1""#),
        RECORD.replace(
            r#""serviceTier":"priority""#,
            r#""serviceTier":{"type":"flex"}"#,
        ),
        RECORD.replace(r#""inputTokenCount":10"#, r#""inputTokenCount":1e1"#),
        RECORD.replace(r#""inputTokenCount":10"#, r#""inputTokenCount":10.0"#),
        RECORD.replace(r#""inputTokenCount":10"#, r#""inputTokenCount":"10""#),
        RECORD.replace(r#""inputTokenCount":10"#, r#""inputTokenCount":010"#),
        RECORD.replace(
            r#""inputTokenCount":10"#,
            r#""inputTokenCount":99999999999999999999"#,
        ),
        RECORD.replace(r#""hi "#, "\"hi\u{1} "),
        RECORD.replace(r#""hi "#, r#""hi\x"#),
        RECORD.replace(r#""hi "#, r#""hi\u12G4"#),
        RECORD.replace("-2.5e3", "-2.5e"),
        RECORD.replace("-2.5e3", "01"),
        RECORD.replace("-2.5e3", "tru"),
        RECORD.replace(r#","n":"#, r#","n" "#),
        RECORD.replace("[1,2,3]", "[1,2,3,]"),
        RECORD.replace(r#""team":"a""#, r#""team":1"#),
        RECORD.replace(r#""team":"a""#, r#""team":null"#),
        RECORD
            .replace(r#""identity":{"#, r#""identity":["#)
            .replace("dev\"}", "dev\"]"),
        RECORD.replace(r#""messages""#, r#""méssages""#),
        RECORD.replace(r#""messages""#, r#""mes\u0073ages""#),
        format!("{RECORD} x"),
        format!("[{RECORD}]"),
        RECORD.replace(
            r#""x":[1,2,3]"#,
            &format!(r#""x":{}1{}"#, "[".repeat(120), "]".repeat(120)),
        ),
        RECORD[..RECORD.len() - 1].to_string(),
    ];
    for case in &cases {
        assert_ne!(case, RECORD, "the replacement applies");
        assert_eq!(agrees(case), Ok(false), "{case}");
    }
    // A key given twice in requestMetadata is a map's to settle (the last wins), and a
    // skipped string's bytes are not UTF-8-checked by serde either.
    let twice = RECORD.replace(r#""b":"c""#, r#""team":"z""#);
    assert_eq!(agrees(&twice), Ok(true));
}

#[test]
fn the_fast_search_finds_what_the_portable_one_finds() {
    let mut text = vec![b'a'; 100];
    for at in [
        None,
        Some(0),
        Some(15),
        Some(16),
        Some(31),
        Some(32),
        Some(47),
        Some(99),
    ] {
        for byte in [b'"', b'\\', 0x00, 0x1f] {
            let mut t = text.clone();
            if let Some(at) = at {
                t[at] = byte;
            }
            for start in [0, 1, 17] {
                assert_eq!(super::special(&t[start..]), special_portable(&t[start..]));
                assert_eq!(
                    special_portable(&t[start..]),
                    at.filter(|&a| a >= start).map(|a| a - start)
                );
            }
        }
    }
    text[50] = 0x20; // the first byte that is not a control character
    assert_eq!(super::special(&text), None);
}

/// Keys a record or a body may hold, some of them twice.
const KEYS: [&str; 22] = [
    "schemaType",
    "schemaVersion",
    "timestamp",
    "accountId",
    "region",
    "inferenceRegion",
    "requestId",
    "modelId",
    "errorCode",
    "identity",
    "requestMetadata",
    "input",
    "output",
    "inputTokenCount",
    "outputTokenCount",
    "inputBodyJson",
    "serviceTier",
    "service_tier",
    "performanceConfig",
    "latency",
    "arn",
    "other",
];

/// JSON text of any shape: what serde makes of it decides.
fn value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_string()),
        Just("true".to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        (-1e6f64..1e6).prop_map(|f| format!("{f:e}")),
        "[a-z\"\\\\\n\u{e9}\u{1}/ ]{0,40}".prop_map(|s| serde_json::to_string(&s).unwrap()),
        "[a-z0-9\\-:.]{0,20}".prop_map(|s| format!("\"{s}\"")),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec((prop::sample::select(&KEYS[..]), inner), 0..6).prop_map(|kv| {
                let fields: Vec<String> = kv.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                format!("{{{}}}", fields.join(" , "))
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_record_of_any_shape_is_serde_s_or_left_to_serde(
        fields in prop::collection::vec((prop::sample::select(&KEYS[..]), value()), 0..10)
    ) {
        let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect();
        let text = format!("{{{}}}", body.join(","));
        prop_assert!(agrees(&text).is_ok(), "{:?}", agrees(&text));
    }

    #[test]
    fn a_damaged_record_is_serde_s_or_left_to_serde(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)
    ) {
        let mut bytes = RECORD.as_bytes().to_vec();
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        // Only UTF-8 text reaches serde as a str here; bytes go the same way below.
        if let Ok(text) = std::str::from_utf8(&bytes) {
            prop_assert!(agrees(text).is_ok(), "{:?}", agrees(text));
        } else if let Some(r) = record(&bytes) {
            prop_assert_eq!(serde_json::from_slice::<Record>(&bytes).ok(), Some(r));
        }
    }
}

/// The property tests above would pass for a scanner that never reads anything: this
/// one makes sure it reads most records that vary in ways AWS's do.
#[test]
fn the_scanner_reads_records_that_vary_as_real_ones_do() {
    let variants = [
        RECORD.to_string(),
        RECORD.replace(",", " ,\t"),
        RECORD.replace(r#""requestMetadata":{"team":"a","b":"c"},"#, ""),
        RECORD.replace(
            r#""errorCode":null"#,
            r#""errorCode":"ThrottlingException""#,
        ),
        RECORD.replace(r#""serviceTier""#, r#""service_tier""#),
        RECORD.replace(r#""inputBodyJson""#, r#""inputBodyS3Path":"s3://b/k","x""#),
        RECORD.replace(r#""hi "#, r#""\ud83d\ude00 tab\t"#),
    ];
    for v in &variants {
        assert_eq!(agrees(v), Ok(true), "{v}");
    }
}
