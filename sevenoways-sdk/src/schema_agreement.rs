//! The OpenAPI document's patterns and lengths say exactly what the checks accept.
//!
//! Every validating type's JSON Schema (what `schemars` gives the server's document) is
//! compiled with the `regex` crate and compared with the type's own check over valid
//! examples and thousands of deterministic mutations of them (spaces, dots, slashes, `%`,
//! non-ASCII, white space of every kind, lengths around the limits). A disagreement is a
//! request Schemathesis would one day find: schema-valid but refused, or the reverse.

use schemars::{JsonSchema, SchemaGenerator};
use serde_json::Value;

use crate::ids::{GroupId, GroupName, InstanceId, NewsletterJid, Phone, PhoneNumberId};
use crate::models::common::{CronExpr, MediaUrl, MessageText};

/// What a string schema allows: its pattern (anchored or not) and lengths, in characters.
struct StringRule {
    pattern: regex::Regex,
    min: usize,
    max: usize,
}

impl StringRule {
    fn of(schema: &Value) -> Self {
        let pattern = schema["pattern"].as_str().expect("a pattern");
        Self {
            pattern: regex::Regex::new(pattern).expect("the pattern compiles in Rust too"),
            min: schema["minLength"].as_u64().unwrap_or(0) as usize,
            max: schema["maxLength"]
                .as_u64()
                .map_or(usize::MAX, |m| m as usize),
        }
    }

    fn allows(&self, s: &str) -> bool {
        let n = s.chars().count();
        self.pattern.is_match(s) && n >= self.min && n <= self.max
    }
}

fn schema_of<T: JsonSchema>() -> Value {
    let mut generator = SchemaGenerator::default();
    T::json_schema(&mut generator).to_value()
}

/// Deterministic variations of `seeds`: each seed, and each with one character inserted,
/// replaced or removed, or repeated to cross a length limit.
fn corpus(seeds: &[&str]) -> Vec<String> {
    const TRICKY: &[char] = &[
        ' ', '\t', '\n', '\u{a0}', '\u{3000}', '\u{feff}', '.', '-', '_', '@', '/', '\\', '%', '?',
        '#', ':', '[', ']', '*', ',', 'é', '0', '9', 'A', 'z', '\0', '+', '&', '=',
    ];
    let mut out: Vec<String> = vec![String::new(), " ".into(), ".".into(), "..".into()];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    for seed in seeds {
        out.push((*seed).to_owned());
        let chars: Vec<char> = seed.chars().collect();
        for _ in 0..400 {
            let mut c = chars.clone();
            let at = next(c.len() + 1);
            let t = TRICKY[next(TRICKY.len())];
            match next(3) {
                0 => c.insert(at, t),
                1 if at < c.len() => c[at] = t,
                _ if at < c.len() => {
                    c.remove(at);
                }
                _ => c.push(t),
            }
            out.push(c.into_iter().collect());
        }
        for n in [63usize, 64, 65, 100, 101, 255, 256, 4096, 4097] {
            let filler: String = std::iter::repeat_n('a', n.saturating_sub(seed.len())).collect();
            out.push(format!("{seed}{filler}"));
            out.push(format!("{filler}{seed}"));
        }
    }
    out
}

fn agree(name: &str, rule: &StringRule, seeds: &[&str], check: impl Fn(&str) -> bool) {
    for s in corpus(seeds) {
        assert_eq!(
            rule.allows(&s),
            check(&s),
            "{name}: the schema says {} but the check says {} for {s:?}",
            rule.allows(&s),
            check(&s)
        );
    }
}

#[test]
fn ids_agree_with_their_schemas() {
    let token = StringRule::of(&schema_of::<InstanceId>());
    agree(
        "InstanceId",
        &token,
        &["number2", "inst_abc-1.2", ".a", "a.", "x"],
        |s| InstanceId::exact(s).is_ok(),
    );
    agree(
        "GroupId",
        &StringRule::of(&schema_of::<GroupId>()),
        &["120363025246125888@g.us", "1-2@g.us"],
        |s| GroupId::exact(s).is_ok(),
    );
    agree(
        "NewsletterJid",
        &StringRule::of(&schema_of::<NewsletterJid>()),
        &["120363111111111111@newsletter"],
        |s| NewsletterJid::exact(s).is_ok(),
    );
    agree(
        "PhoneNumberId",
        &StringRule::of(&schema_of::<PhoneNumberId>()),
        &["106540352242922", "1", &"9".repeat(32)],
        |s| PhoneNumberId::exact(s).is_ok(),
    );
    let phone = schema_of::<Phone>();
    agree(
        "Phone",
        &StringRule::of(&phone["anyOf"][0]),
        &["971501234567", "1234567", "123456789012345"],
        |s| Phone::exact(s).is_ok(),
    );
    agree(
        "GroupName",
        &StringRule::of(&schema_of::<GroupName>()),
        &["Team A", " x "],
        |s| GroupName::exact(s).is_ok(),
    );
}

#[test]
fn texts_agree_with_their_schemas() {
    agree(
        "MessageText",
        &StringRule::of(&schema_of::<MessageText>()),
        &["Hello everyone! 👋\nSee you", " x"],
        |s| MessageText::exact(s).is_ok(),
    );
    agree(
        "FileName",
        &StringRule::of(&schema_of::<crate::models::messages::FileName>()),
        &["Monthly Report.pdf", " a "],
        |s| crate::models::messages::check_filename(s).is_ok(),
    );
    agree(
        "MimeType",
        &StringRule::of(&schema_of::<crate::models::messages::MimeType>()),
        &["application/pdf", "a/b/c", ""],
        |s| crate::models::messages::check_mimetype(Some(s)).is_ok(),
    );
}

#[test]
fn urls_agree_with_their_schema_except_ip_literal_hosts() {
    let rule = StringRule::of(&schema_of::<MediaUrl>());
    let seeds = [
        "https://example.com/banner.jpg",
        "http://a.b-c.example:8080/p/a%20th?q=1&r=a/b?c#frag",
        "https://cdn.example.com",
        "http://localhost:65535/x",
    ];
    for s in corpus(&seeds) {
        let check = MediaUrl::exact(&s).is_ok();
        if rule.allows(&s) {
            assert!(
                check,
                "MediaUrl: the schema allows {s:?} but the check refuses it"
            );
        } else if check {
            let host = s.split("://").nth(1).unwrap_or("");
            let ip_literal = host.starts_with('[')
                || host
                    .split([':', '/', '?', '#'])
                    .next()
                    .is_some_and(|h| h.parse::<std::net::Ipv4Addr>().is_ok());
            assert!(
                ip_literal,
                "MediaUrl: the check accepts {s:?}, which the schema refuses"
            );
        }
    }
    assert!(MediaUrl::exact("http://203.0.113.7/a.png").is_ok());
    assert!(MediaUrl::exact("http://[2001:db8::1]:8080/").is_ok());
    for bad in [
        "http://0/",
        "http://1.2.3/",
        "https://Ï.com/",
        "http://u:p@example.com/",
        "HTTP://example.com/",
    ] {
        assert!(MediaUrl::exact(bad).is_err(), "{bad}");
    }
}

#[test]
fn cron_expressions_agree_with_their_schema() {
    agree(
        "CronExpr",
        &StringRule::of(&schema_of::<CronExpr>()),
        &[
            "0 9 * * 1-5",
            "*/30 8,17 1-31/2 1-12 0-7",
            "0 22-2 * * 5-1",
            "59 23 31 12 7",
        ],
        |s| CronExpr::exact(s).is_ok(),
    );
}

#[test]
fn invite_links_agree_with_their_schema() {
    let rule = StringRule::of(&schema_of::<crate::models::channels::InviteLink>());
    agree(
        "inviteLink",
        &rule,
        &[
            "https://whatsapp.com/channel/0029VaAbCdEf",
            "www.whatsapp.com/channel/0029VaAbCdEf/?utm=x",
            "0029VaAbCdEf",
            "120363111111111111@newsletter",
        ],
        |s| crate::models::channels::ChannelRef::parse(s).is_ok(),
    );
}

#[test]
fn boolean_text_agrees_with_its_schema() {
    let schema = schema_of::<crate::models::de::BoolLike>();
    let rule = StringRule::of(&schema["anyOf"][2]);
    agree(
        "BoolLike",
        &rule,
        &["true", "False", "on", "YES", "0", ""],
        |s| {
            crate::models::de::bool_like(
                serde::de::value::StrDeserializer::<serde::de::value::Error>::new(s),
            )
            .is_ok()
        },
    );
}

#[test]
fn time_zones_are_the_listed_names() {
    let schema = schema_of::<crate::models::common::TimeZone>();
    let names: Vec<&str> = schema["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for name in &names {
        assert!(crate::TimeZone::exact(name).is_ok(), "{name}");
    }
    for bad in ["asia/dubai", " UTC", "UTC ", "Mars/Olympus", ""] {
        assert!(crate::TimeZone::exact(bad).is_err(), "{bad}");
        assert!(!names.contains(&bad));
    }
}
