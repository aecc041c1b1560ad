//! The clap definition: consistent, its help text pinned for every subcommand, and the
//! completions and man pages generated from it.

use crate::common::{stdout, svw};
use clap::CommandFactory;
use sevenoways_cli::cli::Cli;

#[test]
fn the_clap_definition_is_consistent() {
    Cli::command().debug_assert();
}

/// Every subcommand path: `[]`, `["send"]`, `["instances", "qr"]`, ...
fn command_paths(cmd: &clap::Command, prefix: &[String], out: &mut Vec<Vec<String>>) {
    out.push(prefix.to_vec());
    for sub in cmd.get_subcommands() {
        let mut path = prefix.to_vec();
        path.push(sub.get_name().to_owned());
        command_paths(sub, &path, out);
    }
}

#[test]
fn help_of_every_subcommand_is_snapshotted() {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    command_paths(&Cli::command(), &[], &mut paths);
    assert!(paths.len() > 30, "{paths:?}");
    for path in paths {
        let out = svw(dir.path()).args(&path).arg("--help").assert().success();
        let name = std::iter::once("svw".to_owned())
            .chain(path)
            .collect::<Vec<_>>()
            .join("-");
        insta::with_settings!({ prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(name, stdout(out.get_output()));
        });
    }
}

#[test]
fn root_help_documents_the_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let out = svw(dir.path()).arg("--help").assert().success();
    let help = stdout(out.get_output());
    for line in [
        "0    ok",
        "1    API error",
        "2    usage error",
        "3    auth failure",
        "4    rate-limited",
        "5    network error",
    ] {
        assert!(help.contains(line), "{line}");
    }
    // No subcommand: the help, as a usage error.
    svw(dir.path()).assert().code(2);
}

#[test]
fn completions_cover_the_subcommands_in_each_shell() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let out = svw(dir.path())
            .args(["completions", shell])
            .assert()
            .success();
        let script = stdout(out.get_output());
        for word in [
            "svw",
            "send",
            "instances",
            "webhooks",
            "group-id",
            "message-file",
        ] {
            assert!(script.contains(word), "{shell} lacks {word}");
        }
    }
    svw(dir.path())
        .args(["completions", "tcsh"])
        .assert()
        .code(2);
}

#[test]
fn man_pages_are_generated() {
    let dir = tempfile::tempdir().unwrap();
    let out = svw(dir.path()).arg("man").assert().success();
    let page = stdout(out.get_output());
    assert!(
        page.starts_with(".ie") || page.contains(".TH svw 1"),
        "{}",
        &page[..200.min(page.len())]
    );
    assert!(page.contains("webhooks"));

    let pages = dir.path().join("man");
    svw(dir.path())
        .args(["man", "--dir"])
        .arg(&pages)
        .assert()
        .success();
    for name in [
        "svw.1",
        "svw-send.1",
        "svw-instances-qr.1",
        "svw-webhooks-listen.1",
    ] {
        assert!(pages.join(name).is_file(), "{name}");
    }
}
