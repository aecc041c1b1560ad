//! What every command is given: the global options, the printer, and the settings they
//! resolve to (read from the config file only when a command needs them, so that
//! `svw completions` works even with a broken config file).

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use clap::ArgMatches;
use clap::parser::ValueSource;
use sevenoways_sdk::{ApiKey, BodyEncoding, Client, DEFAULT_BASE_URL, InstanceId, env};

use crate::cli::GlobalArgs;
use crate::config::{self, ConfigFile, DEFAULT_PROFILE, Source, Sourced};
use crate::exit::{Code, Failure};
use crate::printer::Printer;

/// The User-Agent product svw puts before the SDK's.
pub const USER_AGENT: &str = concat!("svw/", env!("CARGO_PKG_VERSION"));

/// The longest the SDK may wait, without a word, before retrying a request (a short
/// `Retry-After`, a connection refused, a 502-504). A longer wait is not sat out: a
/// per-minute 429 (`Retry-After` up to 60 s) reaches the user as exit code 4 with the
/// wait in its hint, and `svw send --csv` sits it out itself, saying so.
pub const MAX_SILENT_RETRY_WAIT: Duration = Duration::from_secs(5);

/// The global options, resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The config file's path.
    pub config_path: PathBuf,
    /// The file's contents.
    pub file: ConfigFile,
    /// The profile in use.
    pub profile: Sourced<String>,
    /// The API key, if any (redacted in `Debug`).
    pub api_key: Option<Sourced<ApiKey>>,
    /// The server.
    pub base_url: Sourced<String>,
    /// The default sending instance, if any.
    pub instance: Option<Sourced<String>>,
}

/// Which global options were read from the environment rather than typed as flags.
#[derive(Debug, Clone, Copy, Default)]
struct FromEnv {
    api_key: bool,
    base_url: bool,
    instance: bool,
    profile: bool,
}

/// Shared by every command.
#[derive(Debug)]
pub struct Context {
    /// The global options as given.
    pub global: GlobalArgs,
    /// Where output goes.
    pub printer: Printer,
    from_env: FromEnv,
    settings: OnceLock<Result<Settings, Failure>>,
}

impl Context {
    /// A context for the parsed command line; `matches` tells flags from env values.
    pub fn new(global: GlobalArgs, matches: &ArgMatches) -> Self {
        // Global options are propagated down, so the innermost subcommand knows them all.
        let mut leaf = matches;
        while let Some((_, sub)) = leaf.subcommand() {
            leaf = sub;
        }
        let env = |id: &str| leaf.value_source(id) == Some(ValueSource::EnvVariable);
        let from_env = FromEnv {
            api_key: env("api_key"),
            base_url: env("base_url"),
            instance: env("instance"),
            profile: env("profile"),
        };
        let printer = Printer::new(global.json, global.quiet, global.no_color);
        Self {
            global,
            printer,
            from_env,
            settings: OnceLock::new(),
        }
    }

    /// The resolved settings, reading the config file the first time. A profile named by
    /// `--profile` or `SEVENOWAYS_PROFILE` must exist in the file.
    pub fn settings(&self) -> Result<&Settings, Failure> {
        let s = self.any_profile_settings()?;
        if s.profile.source != Source::Default && !s.file.profiles.contains_key(&s.profile.value) {
            return Err(Failure::usage(format!(
                "no profile named {:?} in {}",
                s.profile.value,
                s.config_path.display()
            ))
            .hint(format!(
                "create it with `svw --profile {} config set api-key`{}",
                s.profile.value,
                match s
                    .file
                    .profiles
                    .keys()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                {
                    names if names.is_empty() => String::new(),
                    names => format!(", or use one of: {}", names.join(", ")),
                }
            )));
        }
        Ok(s)
    }

    /// The resolved settings, even for a profile that is not in the file yet: `svw config`
    /// creates profiles.
    pub fn any_profile_settings(&self) -> Result<&Settings, Failure> {
        self.settings
            .get_or_init(|| self.resolve())
            .as_ref()
            .map_err(Clone::clone)
    }

    fn resolve(&self) -> Result<Settings, Failure> {
        self.resolve_at(config::path()?)
    }

    fn resolve_at(&self, config_path: PathBuf) -> Result<Settings, Failure> {
        let g = &self.global;
        if let Some(warning) = config::permission_warning(&config_path) {
            self.printer.warn(warning);
        }
        let file = ConfigFile::load(&config_path)?;
        let profile = match g
            .profile
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            Some(name) => Sourced {
                value: name.to_owned(),
                source: if self.from_env.profile {
                    Source::Env(env::PROFILE)
                } else {
                    Source::Flag
                },
            },
            None => Sourced {
                value: DEFAULT_PROFILE.into(),
                source: Source::Default,
            },
        };
        let stored = file
            .profiles
            .get(&profile.value)
            .cloned()
            .unwrap_or_default();
        let pick =
            |given: &Option<String>, env: bool, var: &'static str, stored: &Option<String>| {
                config::choose(
                    given.as_deref(),
                    env.then_some(var),
                    stored.as_deref(),
                    &profile.value,
                )
            };
        let api_key = config::choose(
            g.api_key.as_ref().map(ApiKey::expose),
            self.from_env.api_key.then_some(env::API_KEY),
            stored.api_key.as_ref().map(ApiKey::expose),
            &profile.value,
        )
        .map(|k| Sourced {
            value: ApiKey::new(k.value),
            source: k.source,
        });
        let base_url = pick(
            &g.base_url,
            self.from_env.base_url,
            env::BASE_URL,
            &stored.base_url,
        )
        .unwrap_or_else(|| Sourced {
            value: DEFAULT_BASE_URL.into(),
            source: Source::Default,
        });
        let instance = pick(
            &g.instance,
            self.from_env.instance,
            env::INSTANCE,
            &stored.instance,
        );
        Ok(Settings {
            config_path,
            file,
            profile,
            api_key,
            base_url,
            instance,
        })
    }

    /// The API key, once settings were read: for blanking it out of error messages.
    pub fn known_api_key(&self) -> Option<&str> {
        match self.settings.get() {
            Some(Ok(s)) => s.api_key.as_ref().map(|k| k.value.expose()),
            _ => self.global.api_key.as_ref().map(ApiKey::expose),
        }
    }

    /// A client for the configured server and key.
    pub fn client(&self) -> Result<Client, Failure> {
        let s = self.settings()?;
        let key = s.api_key.as_ref().ok_or_else(|| {
            Failure::new(Code::Auth, "no API key").hint(
                "pass --api-key, set SEVENOWAYS_API_KEY, or store one with `svw config set api-key`",
            )
        })?;
        let encoding = if self.global.form {
            BodyEncoding::Form
        } else {
            BodyEncoding::Json
        };
        Client::builder()
            .api_key(key.value.expose().trim())
            .base_url(s.base_url.value.trim())
            .encoding(encoding)
            .user_agent(USER_AGENT)
            .max_retry_wait(MAX_SILENT_RETRY_WAIT)
            .build()
            .map_err(Failure::from)
    }

    /// The sending instance, which sends and group listings need.
    pub fn instance(&self) -> Result<InstanceId, Failure> {
        let s = self.settings()?;
        let id = s.instance.as_ref().ok_or_else(|| {
            Failure::usage("no sending instance").hint(
                "pass --instance ID, set SEVENOWAYS_INSTANCE, or run `svw config set instance ID` (`svw instances list` shows them)",
            )
        })?;
        InstanceId::new(&id.value).map_err(|e| {
            Failure::usage(format!("invalid instance id from {}: {e}", id.source)).hint(
                "instance ids are letters, digits, '_', '-' or '.' (see `svw instances list`)",
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::{CommandFactory, FromArgMatches};

    fn context(args: &[&str]) -> Context {
        let matches = Cli::command().try_get_matches_from(args).unwrap();
        let cli = Cli::from_arg_matches(&matches).unwrap();
        Context::new(cli.global, &matches)
    }

    #[test]
    fn debug_output_of_the_settings_never_shows_an_api_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            "[profiles.default]\napi-key = \"svw_stored_key_987\"\n\n[profiles.work]\ninstance = \"number2\"\n",
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }

        let ctx = context(&["svw", "groups", "list"]);
        let settings = ctx.resolve_at(path.clone()).unwrap();
        assert_eq!(
            settings.api_key.as_ref().map(|k| k.value.expose()),
            Some("svw_stored_key_987")
        );
        let shown = format!("{settings:?}");
        assert!(!shown.contains("svw_stored_key_987"), "{shown}");

        let ctx = context(&["svw", "--api-key", "svw_secret123", "groups", "list"]);
        let settings = ctx.resolve_at(path).unwrap();
        assert_eq!(
            settings.api_key.as_ref().map(|k| k.value.expose()),
            Some("svw_secret123")
        );
        for shown in [format!("{settings:?}"), format!("{ctx:?}")] {
            assert!(!shown.contains("svw_secret123"), "{shown}");
            assert!(!shown.contains("svw_stored_key_987"), "{shown}");
        }
    }
}
