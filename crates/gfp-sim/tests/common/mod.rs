//! Helpers shared by the scenario tests.
#![allow(dead_code)]

use gfp_sim::{run_text, Report, Rule};

/// Runs a scenario body (everything after the header) with `seed`;
/// panics with the error and the whole text when it does not parse.
pub fn run(body: &str, seed: u64) -> Report {
    let text = format!("gfp-scenario 1\nname t\n{body}");
    run_text(&text, seed).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// The rules of the report's findings, in order.
pub fn rules(r: &Report) -> Vec<Rule> {
    r.findings.iter().map(|f| f.rule).collect()
}
