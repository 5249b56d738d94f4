//! Every refused cell of the scope policy is a compile error carrying its
//! reason; every allowed cell compiles. The UI files are derived from
//! `gfp::policy::TABLE`: `ui_files_follow_the_policy_table` fails when they
//! drift (run with `GFP_UI_REGEN=1` to rewrite them, then
//! `TRYBUILD=overwrite` to refresh the expected compiler output).

use std::path::PathBuf;

use gfp::policy::{Direction, TABLE};

fn ui_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/ui")
}

fn file_for(flag: gfp::Flag, direction: Direction, allowed: bool) -> (PathBuf, String) {
    let marker = format!("{flag:?}");
    let dir = if allowed { "allowed" } else { "refused" };
    let name = format!(
        "{}_{}.rs",
        direction.name(),
        flag.short_name().to_ascii_lowercase()
    );
    let verdict = gfp::policy::cell(flag, direction).verdict.name();
    let body = format!(
        "// {} {}: {verdict}.\nfn main() {{\n    let _scope = gfp::scope::{}::<gfp::flag::{marker}>();\n}}\n",
        direction.name(),
        flag.kernel_name(),
        direction.name(),
    );
    (ui_dir().join(dir).join(name), body)
}

#[test]
fn ui_files_follow_the_policy_table() {
    let regen = std::env::var_os("GFP_UI_REGEN").is_some();
    let mut expected = Vec::new();
    for row in TABLE {
        for cell in [row.set, row.clear] {
            let (path, body) = file_for(cell.flag, cell.direction, cell.allowed());
            if regen {
                std::fs::write(&path, &body).unwrap();
            }
            let found = std::fs::read_to_string(&path).unwrap_or_default();
            assert_eq!(
                found,
                body,
                "{} is out of date (GFP_UI_REGEN=1 rewrites it)",
                path.display()
            );
            expected.push(path);
        }
    }
    // No stale file for a cell that changed sides.
    for dir in ["allowed", "refused"] {
        for entry in std::fs::read_dir(ui_dir().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "rs") {
                assert!(expected.contains(&path), "stale UI file {}", path.display());
            }
        }
    }
}

#[test]
fn refused_scopes_do_not_compile_and_allowed_ones_do() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/allowed/*.rs");
    t.compile_fail("tests/ui/refused/*.rs");
}
