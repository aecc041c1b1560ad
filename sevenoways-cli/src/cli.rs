//! The command line: global options and one subcommand per API resource.
//!
//! The doc comments here are the `--help` text; `tests/help.rs` pins it for every
//! subcommand. Global options are `global = true`, so they are accepted before or after
//! the subcommand (`svw --json send …` and `svw send … --json`) as people type them.

use clap::{Args, Parser, Subcommand};
use sevenoways_sdk::{ApiKey, env};

use crate::commands::{
    channels, completions, config, groups, instances, queue, schedules, send, usage, webhooks,
};
use crate::exit::exit_codes_help;

const ABOUT: &str = "svw: send WhatsApp messages through the Sevenoways Relay API";

const LONG_ABOUT: &str = "\
svw: send WhatsApp messages through the Sevenoways Relay API.

Set the API key once with `svw config set api-key` (or SEVENOWAYS_API_KEY) and the
sending number with `svw config set instance ID` (or SEVENOWAYS_INSTANCE), then:

  svw send --group \"Team A\" --message \"Hello everyone! 👋\"
  echo \"Your order is ready\" | svw send --to 971501234567
  svw send --csv orders.csv --message 'Hi {{name}}, order {{order}} is ready'

Settings are taken from flags, then the environment, then the profile in the config
file (`svw config show` says which was used).";

/// The `svw` command line.
#[derive(Debug, Parser)]
#[command(
    name = "svw",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = exit_codes_help(),
    arg_required_else_help = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Options every subcommand takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options that every subcommand accepts, before or after its name.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// API key, sent as x-api-key [default: the profile's]. The environment or the
    /// config file keep it out of your shell history.
    #[arg(
        long,
        global = true,
        env = env::API_KEY,
        hide_env_values = true,
        value_name = "KEY",
        value_parser = parse_api_key,
    )]
    pub api_key: Option<ApiKey>,

    /// Server to talk to [default: the profile's, else https://sevenoways.app]
    #[arg(
        long,
        global = true,
        env = env::BASE_URL,
        hide_env_values = true,
        value_name = "URL"
    )]
    pub base_url: Option<String>,

    /// Sending instance (the paired number) [default: the profile's]
    #[arg(
        long,
        global = true,
        env = env::INSTANCE,
        hide_env_values = true,
        value_name = "ID"
    )]
    pub instance: Option<String>,

    /// Config-file profile to use [default: default]
    #[arg(
        long,
        global = true,
        env = env::PROFILE,
        hide_env_values = true,
        value_name = "NAME"
    )]
    pub profile: Option<String>,

    /// Print the API's JSON answer on stdout (stable, for scripts)
    #[arg(long, global = true)]
    pub json: bool,

    /// Print only ids (or nothing) on stdout, and no progress on stderr
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Send request bodies form-urlencoded instead of JSON (as n8n and Zapier do)
    #[arg(long, global = true)]
    pub form: bool,

    /// Never colour the output (colour is also off when NO_COLOR is set or the output
    /// is not a terminal)
    #[arg(long, global = true)]
    pub no_color: bool,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Send a message to groups, a number, a community or a channel, or one per CSV row
    Send(Box<send::SendArgs>),
    /// List, create, delete and pair instances (WhatsApp numbers)
    Instances(instances::InstancesArgs),
    /// List the groups of the sending instance
    Groups(groups::GroupsArgs),
    /// List, add and remove saved channels
    Channels(channels::ChannelsArgs),
    /// List, create, delete and resume scheduled messages
    Schedules(schedules::SchedulesArgs),
    /// Follow a queued message
    Queue(queue::QueueArgs),
    /// Manage webhook subscriptions; verify and receive deliveries locally
    Webhooks(webhooks::WebhooksArgs),
    /// Show this API key's usage and limits
    Usage(usage::UsageArgs),
    /// Set and show profiles in the config file
    Config(config::ConfigArgs),
    /// Print a shell completion script
    Completions(completions::CompletionsArgs),
    /// Print the man page
    Man(completions::ManArgs),
}

/// Holds the key as an [`ApiKey`], whose `Debug` is redacted, from the moment it is parsed.
fn parse_api_key(s: &str) -> Result<ApiKey, std::convert::Infallible> {
    Ok(ApiKey::new(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_api_key() {
        let cli =
            Cli::try_parse_from(["svw", "--api-key", "svw_secret123", "groups", "list"]).unwrap();
        assert_eq!(
            cli.global.api_key.as_ref().map(ApiKey::expose),
            Some("svw_secret123")
        );
        let shown = format!("{cli:?}");
        assert!(!shown.contains("svw_secret123"), "{shown}");
        assert!(!format!("{cli:#?}").contains("secret123"));
    }
}
