//! Exit codes, and the one error type every command returns.
//!
//! Scripts branch on the exit code, so each class of failure has its own and the mapping
//! from [`sevenoways_sdk::Error`] lives here, in one place.

use std::process::ExitCode;

use sevenoways_sdk::Error;

/// Writes [`Code`], [`Code::ALL`] and [`Code::summary`] from one table, so the codes and
/// the help that documents them cannot drift apart.
macro_rules! exit_codes {
    ($($(#[$doc:meta])* $name:ident = $number:literal => $summary:literal,)+) => {
        /// The documented exit codes; `svw --help` lists them from [`Code::ALL`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Code {
            $($(#[$doc])* $name = $number,)+
        }

        impl Code {
            /// Every code, in the order `svw --help` lists them.
            pub const ALL: &[Code] = &[$(Code::$name),+];

            /// What the code means, as `svw --help` says it.
            pub const fn summary(self) -> &'static str {
                match self {
                    $(Code::$name => $summary,)+
                }
            }
        }
    };
}

exit_codes! {
    /// Everything worked.
    Ok = 0 => "ok",
    /// The API refused or failed the request (4xx other than auth/429, 5xx, bad answers);
    /// also a webhook signature that does not verify.
    Api = 1 => "API error (the server refused or failed the request; a webhook signature did not verify)",
    /// Bad flags or input, caught before anything was sent.
    Usage = 2 => "usage error (bad flags or input; nothing was sent)",
    /// No API key, or the server refused it (401/403).
    Auth = 3 => "auth failure (no API key, or the server refused it)",
    /// 429: the send rate limit or a message cap.
    RateLimited = 4 => "rate-limited (HTTP 429: 60 sends per minute per API key, or a message cap)",
    /// The server could not be reached, or did not answer in time.
    Network = 5 => "network error (the server could not be reached or did not answer in time)",
    /// Ctrl-C (the shell's convention, 128 + SIGINT).
    Interrupted = 130 => "interrupted (Ctrl-C; `svw send --csv` resumes where it stopped)",
}

impl From<Code> for ExitCode {
    fn from(code: Code) -> Self {
        ExitCode::from(code as u8)
    }
}

/// The exit-code table shown at the end of `svw --help`, one line per [`Code::ALL`].
pub fn exit_codes_help() -> String {
    let mut help = String::from("Exit codes:");
    for &code in Code::ALL {
        help.push_str(&format!("\n  {:<5}{}", code as u8, code.summary()));
    }
    help
}

/// A failed command: what went wrong, what to try, and the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The class of failure, which is also the exit code.
    pub code: Code,
    /// The cause, on one line.
    pub message: String,
    /// What to try next, printed after the message on the same line.
    pub hint: Option<String>,
}

impl Failure {
    /// A failure of class `code`.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: one_line(&message.into()),
            hint: None,
        }
    }

    /// A usage error (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Code::Usage, message)
    }

    /// An API-class error (exit 1).
    pub fn api(message: impl Into<String>) -> Self {
        Self::new(Code::Api, message)
    }

    /// Adds (or replaces) the hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(one_line(&hint.into()));
        self
    }

    /// Blanks `secret` out of the message and hint. The SDK never puts the key in an
    /// error, but a server or proxy might echo a header back; this is the last line of
    /// defence before stderr.
    pub fn redact(mut self, secret: &str) -> Self {
        if secret.len() >= 4 {
            self.message = self.message.replace(secret, "<redacted>");
            self.hint = self.hint.map(|h| h.replace(secret, "<redacted>"));
        }
        self
    }
}

/// Errors are printed on one line, whatever the server put in its message.
fn one_line(s: &str) -> String {
    if s.contains(['\n', '\r']) {
        s.split(['\n', '\r'])
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        s.to_owned()
    }
}

const KEY_HINT: &str = "check the API key (--api-key, SEVENOWAYS_API_KEY or `svw config set api-key`); `svw config show` says which one is used";
const NETWORK_HINT: &str =
    "check --base-url (SEVENOWAYS_BASE_URL) and your connection, then try again";
/// Added to the hint of every error after which the server may have acted on the request
/// ([`Error::may_have_been_processed`]).
const MAYBE_QUEUED: &str = "a send may already be queued: re-send it only with the same \
     --idempotency-key, which the server answers without sending again, or check \
     `svw queue status` first";

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        let failure = Self::classify(&err);
        if err.may_have_been_processed() {
            let hint = match failure.hint.as_deref() {
                Some(hint) => format!("{hint} ({MAYBE_QUEUED})"),
                None => MAYBE_QUEUED.to_owned(),
            };
            failure.hint(hint)
        } else {
            failure
        }
    }
}

impl Failure {
    /// The code and hint for `err`, before the may-already-be-queued warning.
    fn classify(err: &Error) -> Self {
        let message = err.to_string();
        match err {
            Error::Validation(v) => Failure::usage(message).hint(validation_hint(v.field())),
            Error::Unauthorized { .. } => Failure::new(Code::Auth, message).hint(KEY_HINT),
            Error::Api { status: 403, .. } => Failure::new(Code::Auth, message).hint(KEY_HINT),
            Error::RateLimited { retry_after, .. } => {
                let wait = retry_after
                    .map(|d| format!("wait {}s", d.as_secs()))
                    .unwrap_or_else(|| "wait a minute".into());
                Failure::new(Code::RateLimited, message).hint(format!(
                    "{wait} and try again; sends are limited to 60 per minute per API key (`svw send --csv` paces itself)"
                ))
            }
            Error::NotFound { .. } => Failure::api(message).hint(
                "check the ids and names given; the `list` subcommands show what this API key has",
            ),
            Error::Api {
                status: 503,
                retry_after: Some(wait),
                ..
            } => Failure::api(message).hint(format!(
                "the server is unavailable: try again in {}s",
                wait.as_secs()
            )),
            Error::Api { status, .. } if *status >= 500 => {
                Failure::api(message).hint("the server failed; try again later")
            }
            Error::Api { .. } => Failure::api(message).hint(
                "the server refused the request: check the values given (the error says which)",
            ),
            Error::Timeout(_) | Error::Transport { .. } => {
                Failure::new(Code::Network, message).hint(NETWORK_HINT)
            }
            Error::Decode { .. } => Failure::api(message).hint(
                "the answer is not the documented shape: check that --base-url points at a Sevenoways server",
            ),
            _ => Failure::api(message),
        }
    }
}

fn validation_hint(field: &str) -> String {
    let field = field.split(['[', '.']).next().unwrap_or(field);
    match field {
        "phone" => "phone numbers are digits with the country code first, e.g. 971501234567".into(),
        "instanceId" => "instance ids are letters, digits, '_', '-' or '.' (see `svw instances list`)".into(),
        "groupIds" => "group ids look like 120363025246125888@g.us (see `svw groups list`); use --group for names".into(),
        "apiKey" => KEY_HINT.into(),
        "baseUrl" => "pass an http(s) URL such as https://sevenoways.app to --base-url".into(),
        "cronExpr" => "cron has five fields, minute first: \"0 9 * * 1-5\" is 09:00 on weekdays".into(),
        "timezone" => "use an IANA time zone name such as Asia/Dubai, Europe/London or UTC".into(),
        "message" => "give the text with --message, --message-file or on stdin".into(),
        other => format!("check the value given for {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_help_lists_every_exit_code_once_with_its_number() {
        let help = exit_codes_help();
        let lines: Vec<&str> = help.lines().collect();
        assert_eq!(lines[0], "Exit codes:");
        assert_eq!(lines.len(), Code::ALL.len() + 1);
        for (line, &code) in lines[1..].iter().zip(Code::ALL) {
            let (number, summary) = line.trim_start().split_once(' ').unwrap();
            assert_eq!(number, (code as u8).to_string(), "{line}");
            assert_eq!(summary.trim_start(), code.summary(), "{line}");
        }
        let mut numbers: Vec<u8> = Code::ALL.iter().map(|&c| c as u8).collect();
        numbers.sort_unstable();
        numbers.dedup();
        assert_eq!(numbers.len(), Code::ALL.len(), "a number is used twice");
        assert_eq!(
            lines[5],
            "  4    rate-limited (HTTP 429: 60 sends per minute per API key, or a message cap)"
        );
        assert_eq!(
            lines[7],
            "  130  interrupted (Ctrl-C; `svw send --csv` resumes where it stopped)"
        );
    }

    #[test]
    fn every_sdk_error_class_has_its_code() {
        let cases: Vec<(Error, Code)> = vec![
            (
                sevenoways_sdk::Phone::new("+1").unwrap_err().into(),
                Code::Usage,
            ),
            (
                Error::Unauthorized {
                    message: "bad key".into(),
                },
                Code::Auth,
            ),
            (
                Error::Api {
                    status: 403,
                    message: "forbidden".into(),
                    retry_after: None,
                },
                Code::Auth,
            ),
            (
                Error::RateLimited {
                    retry_after: Some(Duration::from_secs(7)),
                    message: "slow".into(),
                },
                Code::RateLimited,
            ),
            (
                Error::NotFound {
                    message: "no".into(),
                },
                Code::Api,
            ),
            (
                Error::Api {
                    status: 500,
                    message: "boom".into(),
                    retry_after: None,
                },
                Code::Api,
            ),
            (
                Error::Api {
                    status: 400,
                    message: "bad".into(),
                    retry_after: None,
                },
                Code::Api,
            ),
            (Error::Timeout(Duration::from_secs(30)), Code::Network),
            (
                Error::Transport {
                    source: "connection refused".into(),
                    sent: false,
                },
                Code::Network,
            ),
        ];
        for (err, code) in cases {
            let f = Failure::from(err);
            assert_eq!(f.code, code, "{f:?}");
            let hint = f.hint.as_deref().unwrap_or_else(|| panic!("{f:?}"));
            assert!(!hint.contains('<'), "a placeholder in the hint: {hint}");
        }
        let hint = Failure::from(sevenoways_sdk::Error::from(
            sevenoways_sdk::ValidationError::new("label", "too long"),
        ))
        .hint
        .unwrap();
        assert_eq!(hint, "check the value given for label");
    }

    #[test]
    fn only_errors_after_which_a_send_may_be_queued_say_so() {
        let hint = |err: Error| Failure::from(err).hint.unwrap();
        let transport = |sent| Error::Transport {
            source: "connection closed".into(),
            sent,
        };
        let api = |status, retry_after| Error::Api {
            status,
            message: "failed".into(),
            retry_after,
        };
        for err in [
            transport(true),
            Error::Timeout(Duration::from_secs(30)),
            api(500, None),
            api(503, None),
            Error::Decode {
                path: "queueId".into(),
                source: serde_json::from_str::<u64>("\"x\"").unwrap_err(),
                excerpt: "{}".into(),
            },
        ] {
            assert!(hint(err).ends_with(&format!("({MAYBE_QUEUED})")));
        }
        for err in [
            transport(false),
            api(400, None),
            api(503, Some(Duration::from_secs(5))),
            Error::RateLimited {
                retry_after: None,
                message: "slow".into(),
            },
        ] {
            assert!(!hint(err).contains("queue"));
        }
        assert_eq!(
            hint(api(500, None)),
            "the server failed; try again later (a send may already be queued: re-send it only \
             with the same --idempotency-key, which the server answers without sending again, or \
             check `svw queue status` first)"
        );
    }

    #[test]
    fn messages_are_one_line_and_redacted() {
        let f = Failure::api("line one\nline two: key svw_secret_123\r\n")
            .hint("use svw_secret_123")
            .redact("svw_secret_123");
        assert_eq!(f.message, "line one line two: key <redacted>");
        assert_eq!(f.hint.as_deref(), Some("use <redacted>"));
    }
}
