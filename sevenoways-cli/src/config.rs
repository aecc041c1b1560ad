//! Named profiles in a TOML file, and how a setting is chosen: flag > environment >
//! profile > built-in default.
//!
//! The file lives at `<config dir>/sevenoways/config.toml` (`~/.config` on Linux,
//! `~/Library/Application Support` on macOS, `%APPDATA%` on Windows), or wherever
//! `SVW_CONFIG` points. It holds API keys, so it is written with mode 0600 through
//! a temporary file and a rename: a crash never leaves a half-written or world-readable
//! file behind.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sevenoways_sdk::ApiKey;

use crate::exit::Failure;

/// Overrides the config file's location.
pub const CONFIG_ENV: &str = "SVW_CONFIG";
/// The profile used when neither `--profile` nor `SEVENOWAYS_PROFILE` names one.
pub const DEFAULT_PROFILE: &str = "default";

/// The file's contents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigFile {
    /// Profiles by name.
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// One profile: a key, a server and a default sender.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Profile {
    /// The API key (redacted in `Debug`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<ApiKey>,
    /// The server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The default sending instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
}

/// The config file's path: `SVW_CONFIG`, else the platform's config directory.
pub fn path() -> Result<PathBuf, Failure> {
    if let Some(p) = std::env::var_os(CONFIG_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    dirs::config_dir()
        .map(|d| d.join("sevenoways").join("config.toml"))
        .ok_or_else(|| {
            Failure::usage("could not find a configuration directory for this user")
                .hint(format!("set {CONFIG_ENV} to the config file's path"))
        })
}

impl ConfigFile {
    /// Reads the file; a missing file is an empty configuration.
    pub fn load(path: &Path) -> Result<Self, Failure> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => {
                return Err(Failure::usage(format!(
                    "cannot read {}: {e}",
                    path.display()
                )));
            }
        };
        toml::from_str(&text).map_err(|e| {
            Failure::usage(format!("{} is not a valid svw config: {e}", path.display()))
                .hint("fix the file by hand, or delete it and use `svw config set` again")
        })
    }

    /// Writes the file with mode 0600 (its directory 0700), replacing it atomically.
    pub fn save(&self, path: &Path) -> Result<(), Failure> {
        let fail =
            |e: std::io::Error| Failure::usage(format!("cannot write {}: {e}", path.display()));
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        create_private_dir(dir).map_err(fail)?;
        let text = toml::to_string(self)
            .map_err(|e| Failure::api(format!("cannot encode the config: {e}")))?;
        let tmp = dir.join(format!(
            ".{}.tmp{}",
            path.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("config.toml"),
            std::process::id()
        ));
        let written = (|| {
            let mut file = private_file(&tmp)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&tmp, path)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written.map_err(fail)
    }
}

#[cfg(unix)]
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::create(path)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// A warning when the file can be read by others (it holds API keys).
#[cfg(unix)]
pub fn permission_warning(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o077 != 0).then(|| {
        format!(
            "{} can be read by other users (mode {:o}); run `chmod 600 {}`",
            path.display(),
            mode & 0o777,
            path.display()
        )
    })
}

/// A warning when the file can be read by others (it holds API keys).
#[cfg(not(unix))]
pub fn permission_warning(_path: &Path) -> Option<String> {
    None
}

/// Where a setting's value came from, for `svw config show`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag.
    Flag,
    /// An environment variable.
    Env(&'static str),
    /// A profile in the config file.
    Profile(String),
    /// svw's built-in default.
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag => f.write_str("flag"),
            Source::Env(name) => write!(f, "env {name}"),
            Source::Profile(name) => write!(f, "profile {name}"),
            Source::Default => f.write_str("default"),
        }
    }
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    /// The value.
    pub value: T,
    /// Its origin.
    pub source: Source,
}

/// Picks the first of: the flag/env value (told apart by `from_env`), then the profile's.
pub fn choose(
    given: Option<&str>,
    from_env: Option<&'static str>,
    profile_value: Option<&str>,
    profile: &str,
) -> Option<Sourced<String>> {
    if let Some(v) = given.filter(|v| !v.trim().is_empty()) {
        let source = from_env.map_or(Source::Flag, Source::Env);
        return Some(Sourced {
            value: v.to_owned(),
            source,
        });
    }
    profile_value
        .filter(|v| !v.trim().is_empty())
        .map(|v| Sourced {
            value: v.to_owned(),
            source: Source::Profile(profile.to_owned()),
        })
}

/// Shows that a key is set without showing the key: `svw_…a1b2` for long keys (enough to
/// tell two keys apart), `<set>` for short ones (where four characters are too many).
pub fn mask(key: &str) -> String {
    let chars: Vec<char> = key.trim().chars().collect();
    if chars.len() < 16 {
        return "<set>".into();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use sevenoways_sdk::env;

    #[test]
    fn flag_then_env_then_profile() {
        let p = Some("from-profile");
        assert_eq!(
            choose(Some("x"), None, p, "work").unwrap().source,
            Source::Flag
        );
        assert_eq!(
            choose(Some("x"), Some(env::API_KEY), p, "work")
                .unwrap()
                .source,
            Source::Env(env::API_KEY)
        );
        let got = choose(None, None, p, "work").unwrap();
        assert_eq!(
            (got.value.as_str(), got.source),
            ("from-profile", Source::Profile("work".into()))
        );
        assert_eq!(choose(Some("  "), None, None, "work"), None);
    }

    #[test]
    fn masks_never_show_the_middle_of_a_key() {
        assert_eq!(mask("svw_live_0123456789a1b2"), "svw_…a1b2");
        assert_eq!(mask("short-key"), "<set>");
    }

    #[test]
    fn saves_privately_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("config.toml");
        let mut cfg = ConfigFile::default();
        cfg.profiles.insert(
            "default".into(),
            Profile {
                api_key: Some(ApiKey::new("k")),
                base_url: None,
                instance: Some("number2".into()),
            },
        );
        cfg.save(&path).unwrap();
        assert_eq!(ConfigFile::load(&path).unwrap(), cfg);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            assert_eq!(permission_warning(&path), None);
        }
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains("[profiles.default]")
        );
    }
}
