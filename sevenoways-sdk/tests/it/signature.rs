//! Webhook signatures (`X-Webhook-Signature: sha256=<hex>`) against test vectors computed
//! outside Rust, with OpenSSL, and against the documented Node.js receiver.
//!
//! Every vector below was produced by the shell command in the comment above it, run
//! with a UTF-8 locale (the emoji and non-Latin text are UTF-8 bytes). The body between
//! the single quotes is exactly the Rust raw string below it; none contains a `'`.

use std::process::Command;

use sevenoways_sdk::WebhookSecret;
use sevenoways_sdk::models::webhooks::{Event, EventData};
use sevenoways_sdk::signature::{SIGNATURE_HEADER, Verifier, VerifyError, sign};

struct Vector {
    what: &'static str,
    secret: &'static str,
    body: &'static str,
    /// The lowercase hex digest openssl printed.
    hex: &'static str,
    event: &'static str,
}

const SECRET: &str = "whsec_test_0123456789abcdef";
const OLD_SECRET: &str = "whsec_old_secret_9876543210";

const VECTORS: [Vector; 8] = [
    // printf '%s' '{"id":"evt_01","event":"message.received","timestamp":"2026-11-24T09:00:00Z","instanceId":"number2","data":{"messageId":"wamid.HBgMOTcxNTAxMjM0NTY3","from":"971501234567","chat":"120363025246125888@g.us","message":"Hello everyone! 👋🎉"}}' | openssl dgst -sha256 -hmac 'whsec_test_0123456789abcdef'
    Vector {
        what: "emoji",
        secret: SECRET,
        body: r#"{"id":"evt_01","event":"message.received","timestamp":"2026-11-24T09:00:00Z","instanceId":"number2","data":{"messageId":"wamid.HBgMOTcxNTAxMjM0NTY3","from":"971501234567","chat":"120363025246125888@g.us","message":"Hello everyone! 👋🎉"}}"#,
        hex: "8cb77dcb95cfa978582d3bf977f227934d0a563994a5cc557e99e7ccc3a26fa3",
        event: "message.received",
    },
    // printf '%s' '{"id":"evt_02","event":"message.received","timestamp":"2026-11-24T09:00:01.250Z","instanceId":"number2","data":{"messageId":"wamid.2","from":"447911123456","message":"📊 Daily report:\nSales: 12\nLeads: 3\n\n— sent from n8n"}}' | openssl dgst -sha256 -hmac 'whsec_test_0123456789abcdef'
    Vector {
        what: "newlines as \\n escapes, fractional seconds, an em dash",
        secret: SECRET,
        body: r#"{"id":"evt_02","event":"message.received","timestamp":"2026-11-24T09:00:01.250Z","instanceId":"number2","data":{"messageId":"wamid.2","from":"447911123456","message":"📊 Daily report:\nSales: 12\nLeads: 3\n\n— sent from n8n"}}"#,
        hex: "878d615c6da43c6ff732ef16bf64fb229d1150e1cd9e070b2cb4cbeb9e7bfbd0",
        event: "message.received",
    },
    // printf '%s' '{"id":"evt_03","event":"message.received","timestamp":"2026-11-24T09:00:02Z","instanceId":"number2","data":{"messageId":"wamid.3","from":"12125551234","message":"She said \"ok\" \\ path C:\\Users\\sara\\ tab:\there ctl:\u0001 end"}}' | openssl dgst -sha256 -hmac 'whsec_test_0123456789abcdef'
    Vector {
        what: "quotes, backslashes, a tab and a control character",
        secret: SECRET,
        body: r#"{"id":"evt_03","event":"message.received","timestamp":"2026-11-24T09:00:02Z","instanceId":"number2","data":{"messageId":"wamid.3","from":"12125551234","message":"She said \"ok\" \\ path C:\\Users\\sara\\ tab:\there ctl:\u0001 end"}}"#,
        hex: "3b18e0c7a1a030befc571c8df81c437b6b556cf6a2fb6e1b70e7b621e1c4e380",
        event: "message.received",
    },
    // printf '%s' '{"id":"evt_04","event":"message.received","timestamp":"2026-11-24T09:00:03Z","instanceId":"number2","data":{"messageId":"wamid.4","from":"971501234567","message":"مرحبا، طلبك جاهز · 你好，世界 · Привет, мир · नमस्ते 🙏"}}' | openssl dgst -sha256 -hmac 'whsec_test_0123456789abcdef'
    Vector {
        what: "Arabic, Chinese, Cyrillic and Devanagari text",
        secret: SECRET,
        body: r#"{"id":"evt_04","event":"message.received","timestamp":"2026-11-24T09:00:03Z","instanceId":"number2","data":{"messageId":"wamid.4","from":"971501234567","message":"مرحبا، طلبك جاهز · 你好，世界 · Привет, мир · नमस्ते 🙏"}}"#,
        hex: "07858ab3d1e120b0bd3dcfba998b2d09154b578bd5841bcc7c0889ae76732e3f",
        event: "message.received",
    },
    // printf '%s' '{"id":"evt_05","event":"message.failed","timestamp":"2026-11-24T09:00:04Z","instanceId":"number2","data":{"queueId":142,"to":"971501234567","error":"Send rate limit exceeded — max 60 requests/minute per API key.","attempts":3}}' | openssl dgst -sha256 -hmac 'rotated-secret/2026 ✓'
    Vector {
        what: "a non-ASCII secret, integers",
        secret: "rotated-secret/2026 ✓",
        body: r#"{"id":"evt_05","event":"message.failed","timestamp":"2026-11-24T09:00:04Z","instanceId":"number2","data":{"queueId":142,"to":"971501234567","error":"Send rate limit exceeded — max 60 requests/minute per API key.","attempts":3}}"#,
        hex: "af73f4bab319741f0c659b489828499a220154ff181f8abd1df8279caec14f77",
        event: "message.failed",
    },
    // printf '%s' '{"id":"evt_06","event":"instance.online","timestamp":"2026-11-24T09:00:05Z","instanceId":"number2","data":{"status":"online","phone":"971501234567"}}' | openssl dgst -sha256 -hmac 'whsec_test_0123456789abcdef'
    Vector {
        what: "instance.online, current secret",
        secret: SECRET,
        body: ONLINE,
        hex: "9244d82e8b9af57d47023b4d69cc300944b393989c662c06b1fde56287666e73",
        event: "instance.online",
    },
    // printf '%s' '{"id":"evt_06","event":"instance.online","timestamp":"2026-11-24T09:00:05Z","instanceId":"number2","data":{"status":"online","phone":"971501234567"}}' | openssl dgst -sha256 -hmac 'whsec_old_secret_9876543210'
    Vector {
        what: "instance.online, previous secret",
        secret: OLD_SECRET,
        body: ONLINE,
        hex: "11f139c6e832da8377f32cf0386ac777338e5d456e52057b8042859948a83db1",
        event: "instance.online",
    },
    // printf '%s' '{"id":"evt_07","event":"message.read","timestamp":"2026-11-24T09:00:06Z","instanceId":"number2","data":{"queueId":158,"to":"120363111111111111@newsletter","kind":"text"}}' | openssl dgst -sha256 -hmac 'whsec_test_0123456789abcdef'
    Vector {
        what: "message.read to a channel",
        secret: SECRET,
        body: r#"{"id":"evt_07","event":"message.read","timestamp":"2026-11-24T09:00:06Z","instanceId":"number2","data":{"queueId":158,"to":"120363111111111111@newsletter","kind":"text"}}"#,
        hex: "d0e641b343c1dd28b754b74fc89c4234baefbcd514d344bab03d52d7954f454c",
        event: "message.read",
    },
];

const ONLINE: &str = r#"{"id":"evt_06","event":"instance.online","timestamp":"2026-11-24T09:00:05Z","instanceId":"number2","data":{"status":"online","phone":"971501234567"}}"#;

fn header(v: &Vector) -> String {
    format!("sha256={}", v.hex)
}

fn secret(s: &str) -> WebhookSecret {
    WebhookSecret::new(s)
}

fn check_openssl_vectors() {
    for v in &VECTORS {
        assert_eq!(
            sign(&secret(v.secret), v.body.as_bytes()),
            header(v),
            "{}",
            v.what
        );
    }
}

#[test]
fn sign_matches_openssl() {
    check_openssl_vectors();
}

#[test]
fn sign_writes_lowercase_hex_after_the_prefix() {
    for v in &VECTORS {
        let sig = sign(&secret(v.secret), v.body.as_bytes());
        let hex = sig.strip_prefix("sha256=").expect("the sha256= prefix");
        assert_eq!(hex.len(), 64);
        assert!(
            hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
            "{sig}"
        );
    }
}

#[test]
fn verifier_accepts_every_openssl_vector_and_parses_the_event() {
    for v in &VECTORS {
        let verifier = Verifier::new([secret(v.secret)]);
        let event = verifier
            .verify(v.body.as_bytes(), Some(&header(v)))
            .unwrap_or_else(|e| panic!("{}: {e}", v.what));
        assert_eq!(event.event_type(), v.event, "{}", v.what);
        assert_eq!(event.instance_id.as_str(), "number2");
    }
}

#[test]
fn parsed_events_serialise_back_to_the_identical_bytes() {
    // What the server signs is serde_json::to_vec(&event); a receiver hashing a
    // re-serialisation (as the documented Node.js receiver does) only agrees if this holds.
    for v in &VECTORS {
        let event: Event = serde_json::from_str(v.body).unwrap();
        assert!(
            !matches!(event.data, EventData::Unknown { .. }),
            "{}: parsed as an unknown event",
            v.what
        );
        let bytes = serde_json::to_vec(&event).unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            v.body,
            "{}: re-serialised bytes differ",
            v.what
        );
    }
    // The parsed text is the decoded text, not the escapes.
    let event: Event = serde_json::from_str(VECTORS[2].body).unwrap();
    let EventData::MessageReceived(m) = &event.data else {
        panic!("{event:?}");
    };
    assert_eq!(
        m.message,
        "She said \"ok\" \\ path C:\\Users\\sara\\ tab:\there ctl:\u{1} end"
    );
    let event: Event = serde_json::from_str(VECTORS[1].body).unwrap();
    let EventData::MessageReceived(m) = &event.data else {
        panic!("{event:?}");
    };
    assert_eq!(m.message.lines().count(), 5);
}

/// The documented receiver, run by Node itself:
/// `'sha256=' + crypto.createHmac('sha256', secret).update(JSON.stringify(JSON.parse(body))).digest('hex')`.
const NODE_RECEIVER: &str = r#"
const crypto = require('crypto');
const body = process.env.SVW_BODY;
const restringified = JSON.stringify(JSON.parse(body));
const sig = 'sha256=' + crypto
  .createHmac('sha256', process.env.SVW_SECRET)
  .update(restringified)
  .digest('hex');
process.stdout.write(JSON.stringify({ sig, same: restringified === body }));
"#;

#[test]
fn node_json_stringify_receiver_agrees_with_sign() {
    // The OpenSSL vectors are checked whatever happens with Node below.
    check_openssl_vectors();
    for v in &VECTORS {
        let output = match Command::new("node")
            .arg("-e")
            .arg(NODE_RECEIVER)
            .env("SVW_BODY", v.body)
            .env("SVW_SECRET", v.secret)
            .output()
        {
            Ok(output) => output,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                eprintln!(
                    "note: `node` is not on PATH, so the JSON.stringify receiver was not run; \
                     the OpenSSL vectors were checked"
                );
                return;
            }
            Err(e) => panic!("could not run node: {e}"),
        };
        assert!(
            output.status.success(),
            "node failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let answer: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(
            answer["same"], true,
            "{}: JSON.stringify(JSON.parse(body)) differs from the body",
            v.what
        );
        let node_sig = answer["sig"].as_str().unwrap();
        assert_eq!(
            node_sig,
            sign(&secret(v.secret), v.body.as_bytes()),
            "{}",
            v.what
        );
        assert_eq!(node_sig, header(v), "{}: node and openssl", v.what);
    }
}

#[test]
fn a_tampered_body_does_not_verify() {
    let v = &VECTORS[1];
    let verifier = Verifier::new([secret(v.secret)]);
    let sig = header(v);
    let tampered = [
        v.body.replace("Sales: 12", "Sales: 13"),
        format!("{}\n", v.body),
        format!(" {}", v.body),
        // Same event, pretty-printed: different bytes, so a different signature.
        serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(v.body).unwrap())
            .unwrap(),
        v.body.replace("📊", "\\ud83d\\udcca"),
    ];
    for body in &tampered {
        assert_ne!(body, v.body);
        assert_eq!(
            verifier.verify(body.as_bytes(), Some(&sig)).unwrap_err(),
            VerifyError::Mismatch,
            "{body}"
        );
    }
    assert!(verifier.verify(v.body.as_bytes(), Some(&sig)).is_ok());
}

#[test]
fn a_wrong_secret_does_not_verify() {
    let v = &VECTORS[0];
    for wrong in [
        "whsec_test_0123456789abcdeF",
        "whsec_test_0123456789abcde",
        "",
    ] {
        let verifier = Verifier::new([secret(wrong)]);
        assert_eq!(
            verifier.verify(v.body.as_bytes(), Some(&header(v))),
            Err(VerifyError::Mismatch),
            "{wrong:?}"
        );
    }
}

#[test]
fn a_missing_header_is_reported_as_missing() {
    let verifier = Verifier::new([secret(SECRET)]);
    assert_eq!(
        verifier.verify(ONLINE.as_bytes(), None),
        Err(VerifyError::MissingSignature)
    );
    assert_eq!(
        VerifyError::MissingSignature.to_string(),
        format!("missing {SIGNATURE_HEADER} header")
    );
}

#[test]
fn a_signature_without_the_sha256_prefix_is_malformed() {
    let v = &VECTORS[5];
    let verifier = Verifier::new([secret(v.secret)]);
    let malformed = [
        v.hex.to_owned(),                    // no prefix at all
        format!("sha1={}", v.hex),           // another algorithm
        format!("sha256:{}", v.hex),         // wrong separator
        format!("sha256= {}", v.hex),        // space inside
        format!("sha256={}", &v.hex[..63]),  // 63 digits
        format!("sha256={}0", v.hex),        // 65 digits
        format!("sha256={}g", &v.hex[..63]), // not hex
        "sha256=".to_owned(),
        String::new(),
        format!("sha256={},sha256={}", v.hex, v.hex),
    ];
    for sig in &malformed {
        assert_eq!(
            verifier.verify(v.body.as_bytes(), Some(sig)),
            Err(VerifyError::Malformed),
            "{sig:?}"
        );
    }
}

/// Hex digits are accepted in either case (and so is the `sha256=` prefix, and
/// surrounding whitespace): the digest is the same bytes. The server always sends
/// lowercase, which is what the documented Node.js receiver's string comparison needs.
#[test]
fn uppercase_hex_is_accepted() {
    let v = &VECTORS[5];
    let verifier = Verifier::new([secret(v.secret)]);
    for sig in [
        format!("sha256={}", v.hex.to_uppercase()),
        format!("SHA256={}", v.hex.to_uppercase()),
        format!("Sha256={}", v.hex),
        format!("  sha256={}\t", v.hex),
    ] {
        let event = verifier
            .verify(v.body.as_bytes(), Some(&sig))
            .unwrap_or_else(|e| panic!("{sig:?}: {e}"));
        assert_eq!(event.event_type(), "instance.online");
    }
    // A changed digit is still a mismatch, whatever its case.
    let mut wrong = v.hex.to_uppercase();
    wrong.replace_range(0..1, if wrong.starts_with('9') { "8" } else { "9" });
    assert_eq!(
        verifier.verify(v.body.as_bytes(), Some(&format!("sha256={wrong}"))),
        Err(VerifyError::Mismatch)
    );
}

#[test]
fn two_secrets_while_rotating() {
    let (current, previous) = (&VECTORS[5], &VECTORS[6]);
    assert_eq!(current.body, previous.body);
    assert_ne!(current.hex, previous.hex);

    let rotating = Verifier::new([secret(SECRET), secret(OLD_SECRET)]);
    assert!(
        rotating
            .verify(ONLINE.as_bytes(), Some(&header(current)))
            .is_ok()
    );
    assert!(
        rotating
            .verify(ONLINE.as_bytes(), Some(&header(previous)))
            .is_ok()
    );
    // Order does not matter.
    let reversed = Verifier::new([secret(OLD_SECRET), secret(SECRET)]);
    assert!(
        reversed
            .verify(ONLINE.as_bytes(), Some(&header(current)))
            .is_ok()
    );
    assert!(
        reversed
            .verify(ONLINE.as_bytes(), Some(&header(previous)))
            .is_ok()
    );

    // Once the old secret is dropped, its signatures stop verifying.
    let rotated = Verifier::new([secret(SECRET)]);
    assert!(
        rotated
            .verify(ONLINE.as_bytes(), Some(&header(current)))
            .is_ok()
    );
    assert_eq!(
        rotated.verify(ONLINE.as_bytes(), Some(&header(previous))),
        Err(VerifyError::Mismatch)
    );
    // A third, unrelated secret is no help.
    let unrelated = Verifier::new([secret("some-other-secret-123456")]);
    assert_eq!(
        unrelated.verify(ONLINE.as_bytes(), Some(&header(current))),
        Err(VerifyError::Mismatch)
    );
    // And no secrets at all verifies nothing.
    assert_eq!(
        Verifier::new([]).verify(ONLINE.as_bytes(), Some(&header(current))),
        Err(VerifyError::Mismatch)
    );
}

#[test]
fn a_signed_body_that_is_not_an_event() {
    let body = br#"{"hello":"world"}"#;
    let sig = sign(&secret(SECRET), body);
    let verifier = Verifier::new([secret(SECRET)]);
    assert_eq!(verifier.verify_signature(body, Some(&sig)), Ok(()));
    assert!(matches!(
        verifier.verify(body, Some(&sig)),
        Err(VerifyError::Body(_))
    ));
    // An event name this SDK does not know is kept, not refused.
    let future = r#"{"id":"evt_9","event":"message.reacted","timestamp":"2026-11-24T09:00:00Z","instanceId":"number2","data":{"emoji":"👍"}}"#.as_bytes();
    let event = verifier
        .verify(future, Some(&sign(&secret(SECRET), future)))
        .unwrap();
    assert_eq!(event.event_type(), "message.reacted");
    assert_eq!(serde_json::to_vec(&event).unwrap(), future);
}

#[test]
fn secrets_never_show_in_errors_or_debug_output() {
    let v = &VECTORS[0];
    let verifier = Verifier::new([secret(SECRET), secret(OLD_SECRET)]);
    let debug = format!("{verifier:?}");
    assert!(
        !debug.contains(SECRET) && !debug.contains(OLD_SECRET),
        "{debug}"
    );
    assert_eq!(format!("{:?}", secret(SECRET)), "WebhookSecret(<redacted>)");
    let errors = [
        verifier.verify(b"{}", Some(&header(v))).unwrap_err(),
        verifier
            .verify(v.body.as_bytes(), Some("sha256=xyz"))
            .unwrap_err(),
        verifier.verify(v.body.as_bytes(), None).unwrap_err(),
    ];
    for err in errors {
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(!text.contains(SECRET), "{text}");
            // Nor the signature that was expected.
            assert!(!text.contains(v.hex), "{text}");
        }
    }
}

// Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`).
//
// The vectors below were computed with the Standard Webhooks reference implementation for
// Python (`pip install standardwebhooks`, 1.1.0), not with this SDK:
//
// ```python
// import base64, datetime
// from standardwebhooks.webhooks import Webhook
// when = datetime.datetime.fromtimestamp(1796131262, tz=datetime.timezone.utc)
// Webhook(library_secret).sign(msg_id, when, body)   # -> "v1,..."
// ```
//
// `library_secret` is what a user hands a stock library: a `whsec_<base64>` secret as it
// is, any other secret as `"whsec_" + base64.b64encode(secret.encode())` (the documented
// wrapping, `standard_library_secret`). The SDK signs with the secret exactly as the
// server stores it.

use sevenoways_sdk::signature::{
    DEFAULT_TOLERANCE, StandardHeaders, sign_standard, standard_library_secret,
    standard_signature_header,
};

struct StandardVector {
    what: &'static str,
    /// The secret as created (what the server stores and the SDK is given).
    secret: &'static str,
    /// The secret as handed to the Python library.
    library_secret: &'static str,
    id: &'static str,
    body: &'static str,
    /// What the Python library's `sign` returned.
    signature: &'static str,
}

const AT: i64 = 1_796_131_262;
const TEST_EVENT_BODY: &str = r#"{"id":"evt_3e81ef5ce5264682d261d84b","event":"webhook.test","timestamp":"2026-12-01T13:21:02.182Z","instanceId":"test","data":{"webhookId":"wh_0123456789abcdef01234567","message":"This is a test event from Sevenoways Relay."}}"#;

const STANDARD_VECTORS: [StandardVector; 4] = [
    StandardVector {
        what: "a generated secret: whsec_ and 32 random bytes in base64",
        secret: "whsec_tgLJRpynXtBxZwAkyDRLAyabSjpzyBQBBsElAafm/aY=",
        library_secret: "whsec_tgLJRpynXtBxZwAkyDRLAyabSjpzyBQBBsElAafm/aY=",
        id: "evt_3e81ef5ce5264682d261d84b",
        body: TEST_EVENT_BODY,
        signature: "v1,eAY4g9vWgzR6TALbKovsrsc87jjgBic0ikqcFStSctE=",
    },
    StandardVector {
        what: "a secret generated before: whsec_ and 64 hex digits (valid base64 too)",
        secret: "whsec_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        library_secret: "whsec_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        id: "evt_3e81ef5ce5264682d261d84b",
        body: TEST_EVENT_BODY,
        signature: "v1,Lu1zWwEHFoh2n3lGDhF5TLWYhKUJ2ZiOeBI6S5uFAAw=",
    },
    StandardVector {
        what: "a caller's secret with the prefix but not base64 after it",
        secret: SECRET,
        library_secret: "whsec_d2hzZWNfdGVzdF8wMTIzNDU2Nzg5YWJjZGVm",
        id: "evt_06",
        body: ONLINE,
        signature: "v1,doF8fzXyWVLAzVF6+GKnuYegi5WPivHQZVsU9Tu09Qs=",
    },
    StandardVector {
        what: "a caller's non-ASCII secret, an emoji body",
        secret: "rotated-secret/2026 ✓",
        library_secret: "whsec_cm90YXRlZC1zZWNyZXQvMjAyNiDinJM=",
        id: "evt_01",
        body: VECTORS[0].body,
        signature: "v1,H6u6GL4S02UtEysM6Rktxw5qas+FlZKJV2O4Zmgwx/4=",
    },
];

fn headers<'a>(id: &'a str, ts: &'a str, sig: &'a str) -> StandardHeaders<'a> {
    StandardHeaders {
        id: Some(id),
        timestamp: Some(ts),
        signature: Some(sig),
    }
}

#[test]
fn standard_signatures_match_the_reference_implementation() {
    for v in &STANDARD_VECTORS {
        let ours = secret(v.secret);
        assert_eq!(
            sign_standard(&ours, v.id, AT, v.body.as_bytes()),
            v.signature,
            "{}",
            v.what
        );
        assert_eq!(
            standard_library_secret(&ours).expose(),
            v.library_secret,
            "{}",
            v.what
        );
        // The library form signs the same: it is the same key.
        assert_eq!(
            sign_standard(&secret(v.library_secret), v.id, AT, v.body.as_bytes()),
            v.signature,
            "{}",
            v.what
        );
        let ts = AT.to_string();
        Verifier::new([ours])
            .verify_standard_signature_at(v.body.as_bytes(), &headers(v.id, &ts, v.signature), AT)
            .unwrap_or_else(|e| panic!("{}: {e}", v.what));
    }
}

#[test]
fn the_timestamp_is_checked_five_minutes_either_way() {
    let v = &STANDARD_VECTORS[0];
    let verifier = Verifier::new([secret(v.secret)]);
    let ts = AT.to_string();
    let h = headers(v.id, &ts, v.signature);
    let body = v.body.as_bytes();
    assert_eq!(DEFAULT_TOLERANCE.as_secs(), 300);
    for now in [AT - 300, AT, AT + 300] {
        assert_eq!(verifier.verify_standard_signature_at(body, &h, now), Ok(()));
    }
    // Recorded and replayed later: refused although the signature is good.
    assert_eq!(
        verifier.verify_standard_signature_at(body, &h, AT + 301),
        Err(VerifyError::Expired {
            offset_secs: -301,
            tolerance_secs: 300
        })
    );
    assert_eq!(
        verifier.verify_standard_signature_at(body, &h, AT - 301),
        Err(VerifyError::Expired {
            offset_secs: 301,
            tolerance_secs: 300
        })
    );
    // A day-old delivery with the tolerance widened, for a receiver that wants it.
    let lax = Verifier::new([secret(v.secret)]).tolerance(std::time::Duration::from_secs(86_400));
    assert_eq!(
        lax.verify_standard_signature_at(body, &h, AT + 86_000),
        Ok(())
    );
    // Moving the timestamp into the window breaks the signature: it is signed.
    let moved = (AT + 3600).to_string();
    assert_eq!(
        verifier.verify_standard_signature_at(body, &headers(v.id, &moved, v.signature), AT + 3600),
        Err(VerifyError::Mismatch)
    );
    // The real clock: a delivery signed now verifies, the vector from 2026 does not.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let fresh = sign_standard(&secret(v.secret), v.id, now, body);
    let now_text = now.to_string();
    assert!(
        verifier
            .verify_standard(body, &headers(v.id, &now_text, &fresh))
            .is_ok()
    );
    assert!(matches!(
        verifier.verify_standard(body, &h),
        Err(VerifyError::Expired { .. })
    ));
}

#[test]
fn id_body_and_secret_are_all_covered() {
    let v = &STANDARD_VECTORS[2];
    let ts = AT.to_string();
    let verifier = Verifier::new([secret(v.secret)]);
    let check = |id: &str, body: &str| {
        verifier.verify_standard_signature_at(body.as_bytes(), &headers(id, &ts, v.signature), AT)
    };
    assert_eq!(check(v.id, v.body), Ok(()));
    assert_eq!(check("evt_07", v.body), Err(VerifyError::Mismatch));
    assert_eq!(
        check(v.id, &v.body.replace("online", "offline")),
        Err(VerifyError::Mismatch)
    );
    assert_eq!(
        check(v.id, &format!("{}\n", v.body)),
        Err(VerifyError::Mismatch)
    );
    // The same text keyed the other way (its base64 form as raw bytes) is another key.
    let wrong = Verifier::new([secret("d2hzZWNfdGVzdF8wMTIzNDU2Nzg5YWJjZGVm")]);
    assert_eq!(
        wrong.verify_standard_signature_at(v.body.as_bytes(), &headers(v.id, &ts, v.signature), AT),
        Err(VerifyError::Mismatch)
    );
}

#[test]
fn during_a_rotation_both_secrets_sign_and_either_verifies() {
    let v = &STANDARD_VECTORS[0];
    let (new, old) = (secret(v.secret), secret(STANDARD_VECTORS[1].secret));
    let both = standard_signature_header([&new, &old], v.id, AT, v.body.as_bytes());
    let old_sig = STANDARD_VECTORS[1].signature;
    assert_eq!(both, format!("{} {old_sig}", v.signature));
    let ts = AT.to_string();
    let body = v.body.as_bytes();
    for verifier in [
        Verifier::new([new.clone()]),
        Verifier::new([old.clone()]),
        Verifier::new([old.clone(), new.clone()]),
    ] {
        assert_eq!(
            verifier.verify_standard_signature_at(body, &headers(v.id, &ts, &both), AT),
            Ok(())
        );
    }
    // Signatures of other schemes (v1a: asymmetric) and stray spaces are skipped.
    let mixed = format!("v1a,AAAA  {} ", v.signature);
    assert_eq!(
        Verifier::new([new.clone()]).verify_standard_signature_at(
            body,
            &headers(v.id, &ts, &mixed),
            AT
        ),
        Ok(())
    );
    assert_eq!(
        Verifier::new([secret("another-secret-0123456")]).verify_standard_signature_at(
            body,
            &headers(v.id, &ts, &both),
            AT
        ),
        Err(VerifyError::Mismatch)
    );
}

#[test]
fn malformed_or_missing_standard_headers_are_named() {
    let v = &STANDARD_VECTORS[0];
    let verifier = Verifier::new([secret(v.secret)]);
    let body = v.body.as_bytes();
    let ts = AT.to_string();
    let missing = [
        (
            StandardHeaders {
                id: None,
                ..headers(v.id, &ts, v.signature)
            },
            "webhook-id",
        ),
        (
            StandardHeaders {
                timestamp: None,
                ..headers(v.id, &ts, v.signature)
            },
            "webhook-timestamp",
        ),
        (
            StandardHeaders {
                signature: None,
                ..headers(v.id, &ts, v.signature)
            },
            "webhook-signature",
        ),
    ];
    for (h, name) in missing {
        let err = verifier
            .verify_standard_signature_at(body, &h, AT)
            .unwrap_err();
        assert_eq!(err, VerifyError::MissingHeader(name));
        assert_eq!(err.to_string(), format!("missing {name} header"));
    }
    // Only the legacy header, as a replayer who dropped the rest would send: refused.
    assert_eq!(
        verifier.verify_standard(body, &StandardHeaders::default()),
        Err(VerifyError::MissingHeader("webhook-id"))
    );
    for bad_ts in [
        "",
        "soon",
        "1796131262.5",
        "-1796131262",
        "+1796131262",
        "1e9",
    ] {
        assert_eq!(
            verifier.verify_standard_signature_at(body, &headers(v.id, bad_ts, v.signature), AT),
            Err(VerifyError::MalformedTimestamp),
            "{bad_ts:?}"
        );
    }
    let short = format!("v1,{}", &v.signature[3..40]);
    for bad_sig in [
        "",
        " ",
        "v1",
        "v2,abc",
        "v1,not base64!",
        "sha256=abc",
        short.as_str(),
    ] {
        assert_eq!(
            verifier.verify_standard_signature_at(body, &headers(v.id, &ts, bad_sig), AT),
            Err(VerifyError::MalformedStandard),
            "{bad_sig:?}"
        );
    }
}

#[test]
fn the_header_lookup_reads_lowercase_names() {
    let received = [
        ("webhook-id", "evt_1"),
        ("webhook-timestamp", "1796131262"),
        ("webhook-signature", "v1,abc"),
        ("x-webhook-signature", "sha256=abc"),
    ];
    let h =
        StandardHeaders::from_fn(|name| received.iter().find(|(n, _)| *n == name).map(|(_, v)| *v));
    assert_eq!(h, headers("evt_1", "1796131262", "v1,abc"));
}

#[test]
fn standard_errors_never_show_a_secret_or_a_signature() {
    let v = &STANDARD_VECTORS[0];
    let verifier = Verifier::new([secret(v.secret)]);
    let ts = AT.to_string();
    let errors = [
        verifier
            .verify_standard_signature_at(b"{}", &headers(v.id, &ts, v.signature), AT)
            .unwrap_err(),
        verifier
            .verify_standard_signature_at(
                v.body.as_bytes(),
                &headers(v.id, &ts, v.signature),
                AT + 999,
            )
            .unwrap_err(),
        verifier
            .verify_standard_signature_at(v.body.as_bytes(), &headers(v.id, &ts, "v1,zz"), AT)
            .unwrap_err(),
    ];
    for err in errors {
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(!text.contains(&v.secret[6..20]), "{text}");
            assert!(!text.contains(&v.signature[3..20]), "{text}");
        }
    }
}
