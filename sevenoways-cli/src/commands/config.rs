//! `svw config set|unset|show|path`: profiles in the config file.

use std::io::{BufRead, IsTerminal};

use clap::{Args, Subcommand, ValueEnum};
use sevenoways_sdk::{ApiKey, InstanceId};

use crate::config::{ConfigFile, Sourced, mask};
use crate::context::Context;
use crate::exit::Failure;
use crate::printer::Table;

/// `svw config`.
#[derive(Debug, Args)]
#[command(after_long_help = "\
The file is <config dir>/sevenoways/config.toml (SVW_CONFIG overrides it) and is
written with mode 0600. Settings come from flags, then the environment, then the profile
(--profile or SEVENOWAYS_PROFILE, else \"default\").

Examples:
  svw config set api-key            # paste the key on stdin, keeping it out of shell history
  svw config set instance number2
  svw --profile staging config set base-url http://127.0.0.1:8080
  svw config show")]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

/// The config subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Store a setting in the profile
    Set {
        /// The setting
        key: Key,
        /// Its value; omitted or "-" reads it from stdin (best for the API key)
        value: Option<String>,
    },
    /// Remove a setting from the profile
    Unset {
        /// The setting
        key: Key,
    },
    /// Show the settings in use and where each comes from (the API key masked)
    Show,
    /// Print the config file's path
    Path,
}

/// A stored setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Key {
    /// The API key
    ApiKey,
    /// The server's base URL
    BaseUrl,
    /// The default sending instance
    Instance,
}

impl Key {
    fn name(self) -> &'static str {
        match self {
            Key::ApiKey => "api-key",
            Key::BaseUrl => "base-url",
            Key::Instance => "instance",
        }
    }
}

/// `svw config ...`.
pub fn exec(args: ConfigArgs, ctx: &Context) -> Result<(), Failure> {
    // Any profile name: `svw --profile new config set ...` is how profiles are created.
    let settings = ctx.any_profile_settings()?;
    let path = &settings.config_path;
    let profile = settings.profile.value.clone();
    match args.command {
        ConfigCommand::Set { key, value } => {
            let value = match value.filter(|v| v != "-") {
                Some(v) => v,
                None => read_value(ctx, key)?,
            };
            let value = check(key, value.trim())?;
            let mut file = ConfigFile::load(path)?;
            let entry = file.profiles.entry(profile.clone()).or_default();
            let shown = match key {
                Key::ApiKey => {
                    let shown = mask(&value);
                    entry.api_key = Some(ApiKey::new(value));
                    shown
                }
                Key::BaseUrl => entry.base_url.insert(value).clone(),
                Key::Instance => entry.instance.insert(value).clone(),
            };
            file.save(path)?;
            super::print_done(
                ctx,
                format!(
                    "Set {} = {shown} in profile {profile} ({})",
                    key.name(),
                    path.display()
                ),
            );
        }
        ConfigCommand::Unset { key } => {
            let mut file = ConfigFile::load(path)?;
            if let Some(entry) = file.profiles.get_mut(&profile) {
                match key {
                    Key::ApiKey => entry.api_key = None,
                    Key::BaseUrl => entry.base_url = None,
                    Key::Instance => entry.instance = None,
                }
                file.save(path)?;
            }
            super::print_done(ctx, format!("Unset {} in profile {profile}", key.name()));
        }
        ConfigCommand::Show => show(ctx)?,
        ConfigCommand::Path => ctx.printer.out(path.display().to_string()),
    }
    Ok(())
}

fn read_value(ctx: &Context, key: Key) -> Result<String, Failure> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        ctx.printer
            .info(format!("Enter the {} and press Enter:", key.name()));
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure::usage(format!("cannot read stdin: {e}")))?;
    Ok(line)
}

/// An http(s) URL with a host, as the client needs.
fn check_base_url(value: &str) -> Result<String, Failure> {
    let bad = |why: String| {
        Failure::usage(format!(
            "base-url must be an http(s) URL with a host, got {value:?}: {why}"
        ))
        .hint("e.g. `svw config set base-url https://sevenoways.app` or http://127.0.0.1:8080")
    };
    let url = url::Url::parse(value).map_err(|e| bad(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad(format!("the scheme is {:?}", url.scheme())));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("there is no host".into()));
    }
    Ok(value.to_owned())
}

/// Refuses values the client would refuse later, naming the setting now.
fn check(key: Key, value: &str) -> Result<String, Failure> {
    if value.is_empty() {
        return Err(
            Failure::usage(format!("no value given for {}", key.name())).hint(format!(
                "`svw config set {} VALUE`, or `svw config unset {}`",
                key.name(),
                key.name()
            )),
        );
    }
    match key {
        Key::ApiKey if !value.bytes().all(|b| b.is_ascii_graphic()) => Err(Failure::usage(
            "the API key must be printable ASCII without spaces",
        )),
        Key::BaseUrl => check_base_url(value),
        Key::Instance => InstanceId::new(value)
            .map(|id| id.to_string())
            .map_err(|e| Failure::usage(format!("invalid instance id: {e}"))),
        _ => Ok(value.to_owned()),
    }
}

fn show(ctx: &Context) -> Result<(), Failure> {
    let s = ctx.any_profile_settings()?;
    let key = s.api_key.as_ref().map(|k| Sourced {
        value: mask(k.value.expose()),
        source: k.source.clone(),
    });
    let rows: [(&str, Option<&Sourced<String>>); 3] = [
        ("api-key", key.as_ref()),
        ("base-url", Some(&s.base_url)),
        ("instance", s.instance.as_ref()),
    ];
    let p = &ctx.printer;
    if p.is_json() {
        let setting = |v: Option<&Sourced<String>>| {
            v.map(|v| serde_json::json!({ "value": v.value, "source": v.source.to_string() }))
        };
        p.json(&serde_json::json!({
            "configFile": s.config_path.display().to_string(),
            "profile": { "value": s.profile.value, "source": s.profile.source.to_string() },
            "apiKey": setting(rows[0].1),
            "baseUrl": setting(rows[1].1),
            "instance": setting(rows[2].1),
            "profiles": s.file.profiles.keys().collect::<Vec<_>>(),
        }));
        return Ok(());
    }
    let mut table = Table::new(&["SETTING", "VALUE", "SOURCE"]);
    table.row([
        "profile",
        s.profile.value.as_str(),
        &s.profile.source.to_string(),
    ]);
    for (name, v) in rows {
        match v {
            Some(v) => table.row([name, v.value.as_str(), &v.source.to_string()]),
            None => table.row([name, "(not set)", ""]),
        };
    }
    p.table(&table);
    if !p.is_quiet() {
        let names: Vec<&str> = s.file.profiles.keys().map(String::as_str).collect();
        p.note(format!(
            "Config file: {}{}",
            s.config_path.display(),
            if names.is_empty() {
                String::new()
            } else {
                format!(" (profiles: {})", names.join(", "))
            }
        ));
    }
    Ok(())
}
