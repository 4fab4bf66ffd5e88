//! Every program writes its man page and shell completions from its own clap
//! definitions (`PROGRAM --generate man|SHELL`, issue 14), so they say what --help
//! says; readme.txt tells how to install them. A program with subcommands has one
//! page that documents each subcommand's options, not pointers to pages it cannot
//! write.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

const PROGRAMS: [(&str, &str, &str); 5] = [
    ("minmax-server", env!("CARGO_BIN_EXE_minmax-server"), "frame-timeout"),
    ("minmax-client", env!("CARGO_BIN_EXE_minmax-client"), "encrypt"),
    ("minmax-bench", env!("CARGO_BIN_EXE_minmax-bench"), "pipeline"),
    // Options of a subcommand: grade's, and client's.
    ("minmax-conform", env!("CARGO_BIN_EXE_minmax-conform"), "client-encrypt-arg"),
    ("minmax-certs", env!("CARGO_BIN_EXE_minmax-certs"), "ids-from"),
];

fn generate(binary: &str, what: &str) -> (Option<i32>, String) {
    let output = Command::new(binary).args(["--generate", what]).output().unwrap();
    (
        output.status.code(),
        String::from_utf8(output.stdout).unwrap() + &String::from_utf8_lossy(&output.stderr),
    )
}

#[test]
fn every_program_writes_its_man_page_and_completions() {
    for (name, binary, option) in PROGRAMS {
        let (code, man) = generate(binary, "man");
        assert_eq!(code, Some(0), "{name}: {man}");
        assert!(man.contains(&format!(".TH {name} 1")), "{name}: {man}");
        assert!(man.contains(&option.replace('-', "\\-")), "{name}'s man page lacks {option}");
        assert!(!man.contains("(1)"), "{name}'s man page points to other pages: {man}");
        // --generate itself is documented, in the page and in --help.
        assert!(man.contains("\\-\\-generate"), "{name}'s man page lacks --generate");
        let help = Command::new(binary).arg("--help").output().unwrap();
        assert!(String::from_utf8_lossy(&help.stdout).contains("--generate <man|SHELL>"), "{name} --help");
        for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
            let (code, completions) = generate(binary, shell);
            assert_eq!(code, Some(0), "{name} {shell}: {completions}");
            assert!(completions.contains(option), "{name}'s {shell} completions lack --{option}");
        }
    }
}

#[test]
fn an_unknown_shell_is_exit_2_and_a_full_output_is_exit_5() {
    let (_, binary, _) = PROGRAMS[0];
    let (code, text) = generate(binary, "tcsh");
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("takes man, bash, zsh, fish, elvish or powershell"), "{text}");
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let output = Command::new(binary).args(["--generate", "man"]).stdout(full).output().unwrap();
    assert_eq!(output.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot write to standard output"));
}
