//! The `gfp` command as a user runs it.

use assert_cmd::Command;
use predicates::prelude::*;

fn gfp() -> Command {
    Command::cargo_bin("gfp").unwrap()
}

#[test]
fn decode_prints_the_kernel_form() {
    gfp()
        .args(["decode", "0x140cca"])
        .assert()
        .success()
        .stdout("0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP)\n");
    gfp()
        .args(["decode", "--kernel", "6.12", "0x2820", "0", "3264"])
        .assert()
        .success()
        .stdout("0x2820(GFP_ATOMIC|__GFP_NOWARN)\n0x0()\n0xcc0(GFP_KERNEL)\n");
    gfp()
        .args(["decode", "--kernel", "6.12", "--trace", "0"])
        .assert()
        .success()
        .stdout("none\n");
}

#[test]
fn decode_follows_kernel_version_and_config() {
    gfp()
        .args(["decode", "--kernel", "6.7", "0x800"])
        .assert()
        .success()
        .stdout("0x800(GFP_NOWAIT)\n");
    gfp()
        .args(["decode", "--kernel", "6.12", "0x800"])
        .assert()
        .success()
        .stdout("0x800(__GFP_KSWAPD_RECLAIM)\n");
    gfp()
        .args([
            "decode",
            "--kernel",
            "6.16",
            "--config",
            "CONFIG_LOCKDEP=y",
            "--config",
            "CONFIG_SLAB_OBJ_EXT=n",
            "0x1000cc0",
        ])
        .assert()
        .success()
        .stdout("0x1000cc0(GFP_KERNEL|__GFP_NOLOCKDEP)\n");
}

#[test]
fn decode_errors_name_the_problem() {
    gfp()
        .args(["decode", "GFP_KERNEL|__GFP_NOWRAN"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("__GFP_NOWRAN").and(predicate::str::contains("__GFP_NOWARN")),
        );
    gfp()
        .args(["decode", "--kernel", "six", "0x1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("`six` is not a kernel version"));
    gfp()
        .args(["decode", "--config", "CONFIG_FOO=y", "0x1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("CONFIG_FOO"));
}

/// `decode --json` is JSON Lines for masks on the command line, as for a
/// log on stdin: one object per line.
#[test]
fn decode_json() {
    let out = gfp()
        .args([
            "decode",
            "--json",
            "--kernel",
            "6.12",
            "0x400dc0",
            "GFP_KERNEL",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(
        lines[0]["rendered"],
        "0x400dc0(GFP_KERNEL_ACCOUNT|__GFP_ZERO)"
    );
    assert_eq!(lines[0]["mask"], "0x400dc0");
    assert_eq!(lines[1]["mask"], "0xcc0");
}

/// Every listing takes --json: `profile --list` and `sim --list` too, and
/// `sim --list` gives whole sentences.
#[test]
fn listings_take_json() {
    let out = gfp()
        .args(["profile", "--list", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v.first().map(String::as_str), v.last().map(String::as_str)),
        (Some("3.0"), Some("7.1"))
    );
    let out = gfp().args(["sim", "--list", "--json"]).output().unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = v.as_array().unwrap();
    assert!(list.len() >= 10);
    for e in list {
        let s = e["summary"].as_str().unwrap();
        assert!(s.ends_with('.'), "{}: {s}", e["name"]);
    }
    assert_eq!(
        list[0]["summary"],
        "The debate behind the seed, case (a): a bcachefs-like transaction takes its btree lock and enters the proposed scoped GFP_NOWAIT (a scope that clears __GFP_DIRECT_RECLAIM, PF_MEMALLOC_NORECLAIM)."
    );
    let text = gfp().args(["sim", "--list"]).output().unwrap().stdout;
    let text = String::from_utf8(text).unwrap();
    assert!(text.lines().all(|l| l.ends_with('.')), "{text}");
}

/// No Rust `Debug` text (`NoMemory { gfp: ..., order: 0 }`) in what the
/// built-in scenarios print.
#[test]
fn sim_reports_have_no_debug_text() {
    let names = gfp().args(["sim", "--list"]).output().unwrap().stdout;
    for line in String::from_utf8(names).unwrap().lines() {
        let name = line.split_whitespace().next().unwrap();
        let out = gfp().args(["sim", name]).output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        for w in text.split_whitespace().collect::<Vec<_>>().windows(3) {
            let debug_struct = w[0].starts_with(|c: char| c.is_ascii_uppercase())
                && w[0].chars().all(|c| c.is_ascii_alphanumeric())
                && w[1] == "{"
                && w[2].ends_with(':');
            assert!(!debug_struct, "{name}: {}", w.join(" "));
        }
    }
}

#[test]
fn scopes_json_has_one_row_per_flag() {
    let out = gfp().args(["scopes", "--json"]).output().unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), gfp::Flag::ALL.len());
    let nofail = rows.iter().find(|r| r["flag"] == "__GFP_NOFAIL").unwrap();
    assert_eq!(nofail["set"]["allowed"], false);
    assert_eq!(nofail["clear"]["verdict"], "unsafe");
    assert!(nofail["clear"]["reason"]
        .as_str()
        .unwrap()
        .contains("__GFP_NOFAIL"));
    let io = rows.iter().find(|r| r["flag"] == "__GFP_IO").unwrap();
    assert_eq!(io["clear"]["allowed"], true);
    assert_eq!(io["clear"]["task_flag"], "PF_MEMALLOC_NOIO");
}

#[test]
fn check_scope_exit_status() {
    gfp()
        .args(["check-scope", "--set", "__GFP_NOWARN", "--clear", "FS"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("allowed"));
    gfp()
        .args([
            "check-scope",
            "--clear",
            "__GFP_DIRECT_RECLAIM",
            "--set",
            "NOWARN",
        ])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("__GFP_NOFAIL"));
    gfp()
        .args(["check-scope", "--set", "GFP_KERNEL"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a single GFP flag"));
    let out = gfp()
        .args(["check-scope", "--json", "--set", "__GFP_NOFAIL"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["allowed"], false);
}

#[test]
fn explain_covers_every_topic() {
    gfp()
        .args(["explain", "GFP_NOFS|__GFP_NOFAIL"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("never fails")
                .and(predicate::str::contains("does not call into filesystems"))
                .and(predicate::str::contains("REFUSED")),
        );
    gfp()
        .args(["explain", "--kernel", "3.10", "0x10d0"])
        .assert()
        .success()
        .stdout(predicate::str::contains("may sleep"));
}

#[test]
fn decode_annotates_logs_on_stdin() {
    let log = "[  1.0] CPU: 1 PID: 9 Comm: kworker Not tainted 5.4.0-42-generic #46-Ubuntu\n\
               [  2.0] kworker/0:1: page allocation failure: order:4, mode:0x40cc0(GFP_KERNEL|__GFP_COMP), nodemask=(null),cpuset=/,mems_allowed=0\n\
               [  3.0] nothing to see\n";
    gfp()
        .arg("decode")
        .write_stdin(log)
        .assert()
        .success()
        .stdout(
            predicate::str::contains("page allocation failure")
                .and(predicate::str::contains("    | ")),
        );
    let out = gfp()
        .args(["decode", "--json"])
        .write_stdin(log)
        .output()
        .unwrap();
    assert!(out.status.success());
    let line = String::from_utf8(out.stdout).unwrap();
    let v: serde_json::Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    assert_eq!(v["line"], 2);
    assert_eq!(v["mask"], "0x40cc0");
    assert_eq!(v["printed"], "GFP_KERNEL|__GFP_COMP");
    let versions: Vec<&str> = v["agreeing_versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert!(
        versions.contains(&"5.4") && versions.contains(&"7.1") && !versions.contains(&"4.19"),
        "{versions:?}"
    );
}

#[test]
fn arbitrary_bytes_on_stdin_do_not_crash() {
    let mut junk: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    junk.extend_from_slice(b"\nmode:0x\ngfp_mask=0xffffffffff(\ngfp_flags=|||\n\xff\xfe mode:0x1(");
    gfp().arg("decode").write_stdin(junk).assert().success();
}

/// The block-wise stream finds exactly what the line-by-line scanner
/// (holding mask lines for their report's banner) finds,
/// across block boundaries, CRLF endings, invalid UTF-8, a line longer than
/// a block and a last line without its newline.
#[test]
fn streamed_decoding_equals_line_by_line_scanning() {
    let mut log = Vec::new();
    let lines: &[&[u8]] = &[
        b"[ 1.0] CPU: 0 PID: 1 Comm: init Not tainted 4.19.0-6-amd64 #1 Debian",
        b"[ 2.0] a: page allocation failure: order:0, mode:0x6000c0(GFP_KERNEL), nodemask=(null)\r",
        b"\xff\xfe junk mode:0x20 gfp_mask=0x0() \xc3",
        b"  kworker-1 [000] .... 1.2: mm_page_alloc: page=0 pfn=0x1 order=0 migratetype=0 gfp_flags=GFP_KERNEL",
    ];
    for i in 0..40_000 {
        log.extend_from_slice(lines[i % lines.len()]);
        log.push(b'\n');
        if i == 20_000 {
            log.extend(std::iter::repeat_n(b'x', 3 << 20));
            log.extend_from_slice(
                b" gfp_mask=0x400cc0(GFP_KERNEL_ACCOUNT), order=0, oom_score_adj=0\n",
            );
        }
    }
    log.extend_from_slice(b"tail: mode:0xcc0(GFP_KERNEL)");
    let out = gfp()
        .args(["decode", "--json"])
        .write_stdin(log.clone())
        .output()
        .unwrap();
    assert!(out.status.success());
    let streamed: Vec<serde_json::Value> = out
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    let mut scanner = gfp::logscan::ReportScanner::default();
    let mut expected = Vec::new();
    let mut settled = Vec::new();
    for (i, raw) in log.split(|&b| b == b'\n').enumerate() {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        settled.extend(scanner.scan_line(i + 1, &String::from_utf8_lossy(raw)));
    }
    settled.extend(scanner.finish());
    for (_, findings) in settled {
        for f in findings {
            expected.push(serde_json::to_value(&f).unwrap());
        }
    }
    assert!(expected.len() > 30_000);
    assert_eq!(streamed.len(), expected.len());
    assert!(
        streamed == expected,
        "streamed findings differ from line-by-line scanning"
    );
}

#[test]
fn profile_summary_json_and_files() {
    gfp()
        .args(["profile", "--kernel", "4.4"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("__GFP_WAIT")
                .not()
                .and(predicate::str::contains("__GFP_ATOMIC")),
        );
    let dir = std::env::temp_dir().join(format!("gfp-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("p.json");
    gfp()
        .args(["profile", "--kernel", "3.10", "-o"])
        .arg(&file)
        .assert()
        .success();
    gfp()
        .args(["decode", "--profile"])
        .arg(&file)
        .arg("0xd0")
        .assert()
        .success()
        .stdout("0xd0(GFP_KERNEL)\n");
    std::fs::write(&file, "{ not json").unwrap();
    gfp()
        .args(["decode", "--profile"])
        .arg(&file)
        .arg("0x1")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is not a gfp profile"));
    gfp()
        .args(["profile", "--from-source"])
        .arg(&dir)
        .args(["--config", "CONFIG_LOCKDEP=y"])
        .assert()
        .code(2);
    gfp()
        .args(["profile", "--from-source"])
        .arg(&dir)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a kernel source tree"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn sim_exit_status_names_the_detector() {
    gfp()
        .args(["sim", "bcachefs-scoped-nowait"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("[nofail-failed]"));
    gfp()
        .args(["sim", "bcachefs-explicit-nowait"])
        .assert()
        .code(0);
    gfp().args(["sim", "no-such-scenario"]).assert().code(2);
}

#[test]
fn sim_html_writes_the_page_next_to_the_report() {
    let dir = std::env::temp_dir().join(format!("gfp-cli-html-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("swap.html");
    // The text report is printed as without --html, and the page written.
    let text = gfp()
        .args(["sim", "swap-over-nfs"])
        .output()
        .unwrap()
        .stdout;
    gfp()
        .args(["sim", "swap-over-nfs", "--html"])
        .arg(&page)
        .assert()
        .code(1)
        .stdout(String::from_utf8(text).unwrap());
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<title>gfp sim: swap-over-nfs (seed 1)</title>"));
    assert!(html.contains("unhandled-failure"));
    // With --json, JSON on stdout; the page is the same bytes.
    let again = dir.join("again.html");
    gfp()
        .args(["sim", "swap-over-nfs", "--json", "--html"])
        .arg(&again)
        .assert()
        .code(1)
        .stdout(predicate::str::starts_with("{"));
    assert_eq!(std::fs::read(&again).unwrap(), html.as_bytes());
    // The axis can be forced.
    gfp()
        .args(["sim", "swap-over-nfs", "--x-axis", "time", "--html"])
        .arg(&again)
        .assert()
        .code(1);
    assert!(std::fs::read_to_string(&again)
        .unwrap()
        .contains(">virtual time (µs)<"));
    // A page that cannot be written: exit 2, the path and the OS error.
    let missing = dir.join("no-such-dir").join("x.html");
    gfp()
        .args(["sim", "swap-over-nfs", "--html"])
        .arg(&missing)
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(missing.display().to_string()))
        .stderr(predicate::str::contains("No such file or directory"));
    // --x-axis only makes sense with a page.
    gfp()
        .args(["sim", "swap-over-nfs", "--x-axis", "step"])
        .assert()
        .code(2);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn verify_json_gives_a_witness_that_replays() {
    let out = gfp()
        .args([
            "verify",
            "--flag",
            "__GFP_FS",
            "--direction",
            "set",
            "--json",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let cells = v["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 1);
    let c = &cells[0];
    assert_eq!(c["flag"], "__GFP_FS");
    assert_eq!(c["direction"], "set");
    assert_eq!(c["documented_allowed"], false);
    assert_eq!(c["derived"], "unsafe");
    assert_eq!(c["agrees"], true);
    assert!(c["explored"].as_u64().unwrap() > 0);
    let detector = c["detector"].as_str().unwrap().to_string();
    let witness = c["witness"].as_str().unwrap();
    assert!(witness.starts_with("gfp-scenario 1\n"), "{witness}");

    let dir = std::env::temp_dir().join(format!("gfp-cli-verify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("witness.scenario");
    std::fs::write(&file, witness).unwrap();
    gfp()
        .arg("sim")
        .arg(&file)
        .assert()
        .code(1)
        .stdout(predicate::str::contains(format!("[{detector}]")));
    gfp()
        .arg("sim")
        .arg(&file)
        .arg("--drop-scopes")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("findings: none"))
        .stdout(predicate::str::contains("completed"))
        .stdout(predicate::str::contains("stuck").not())
        .stdout(predicate::str::contains("unfinished").not());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn verify_table_and_usage_errors() {
    // An allowed cell: searched, nothing found, agreement, exit 0.
    gfp()
        .args([
            "verify",
            "--flag",
            "NOWARN",
            "--direction",
            "clear",
            "--max-ops",
            "1",
            "--random",
            "0",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("__GFP_NOWARN"))
        .stdout(predicate::str::contains("no violation found"))
        .stdout(predicate::str::contains("1 of 1 cells agree"))
        .stdout(predicate::str::contains("Legend"));
    gfp()
        .args(["verify", "--flag", "__GFP_NOWRAN"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown flag"));
    gfp()
        .args(["verify", "--max-ops", "0"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--max-ops"));
    gfp()
        .args(["verify", "--direction", "sideways"])
        .assert()
        .code(2);
}

/// A file for one test, in a directory of its own.
fn temp_file(test: &str, name: &str, contents: impl AsRef<[u8]>) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("gfp-cli-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

/// 15,000 nested blocks used to overflow the parser's stack (exit 134); on
/// the main thread they are refused with the bound, and a scenario at the
/// bound runs.
#[test]
fn sim_refuses_nesting_past_the_bound() {
    let nested = |depth: usize| {
        let mut s = String::from("gfp-scenario 1\ntask t\n");
        s.push_str(&"repeat 2\n".repeat(depth));
        s.push_str("alloc b GFP_KERNEL\n");
        s.push_str(&"end\n".repeat(depth + 1));
        s
    };
    let deep = temp_file("nesting", "deep.scn", nested(15_000));
    gfp()
        .arg("sim")
        .arg(&deep)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("blocks nested more than 256 deep"));
    let ok = temp_file("nesting", "ok.scn", nested(256));
    gfp()
        .arg("sim")
        .arg(&ok)
        .assert()
        .code(predicate::in_iter([0, 1]));
}

/// Every numeric option has a checked range, refused up front (exit 2, the
/// range in the message) and documented in `--help`: a batch larger than
/// the benchmark machine holds used to panic (exit 101), a huge
/// `--random` to abort on a 3 TB allocation (exit 134).
#[test]
fn numeric_options_are_range_checked() {
    for (args, range) in [
        (
            &[
                "bench",
                "--batch",
                "5000",
                "--samples",
                "1",
                "--pairs",
                "10",
            ][..],
            "1..=1024",
        ),
        (&["bench", "--samples", "0"][..], "1..=100"),
        (&["bench", "--pairs", "100000000000"][..], "1..=100000000"),
        (
            &[
                "verify",
                "--random",
                "99999999999",
                "--flag",
                "__GFP_NOWARN",
            ][..],
            "0..=65536",
        ),
        (&["verify", "--max-ops", "4"][..], "1..=3"),
        (&["explain", "--order", "64", "GFP_KERNEL"][..], "0..=63"),
        (&["explain", "--order", "-1", "GFP_KERNEL"][..], "-1"),
        (
            &["sim", "--seed", "18446744073709551616", "disk-errors"][..],
            "18446744073709551616",
        ),
        (&["verify", "--seed", "-1"][..], "-1"),
    ] {
        gfp()
            .args(args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(range));
    }
    for (cmd, documented) in [
        (
            "bench",
            ["1 to 100", "1 to 100000000", "1 to 1024"].as_slice(),
        ),
        (
            "verify",
            ["1 to 3", "0 to 65536", "0 to 18446744073709551615"].as_slice(),
        ),
        ("explain", ["0 to 63"].as_slice()),
        ("sim", ["0 to 18446744073709551615"].as_slice()),
    ] {
        let help = gfp().args([cmd, "--help"]).output().unwrap();
        let text = String::from_utf8(help.stdout).unwrap();
        for d in documented {
            assert!(text.contains(d), "{cmd} --help lacks `{d}`:\n{text}");
        }
    }
}

/// One rule for numbers (digits alone are decimal, hex needs 0x, a hex word
/// gets the spelling that works) and no empty operand beside a `|`.
#[test]
fn mask_numbers_and_operands() {
    gfp()
        .args(["decode", "20020", "0x20020"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("0x4e34("))
        .stdout(predicate::str::contains("\n0x20020("));
    for (cmd, bare) in [("decode", "cc0"), ("decode", "200da"), ("explain", "cc0")] {
        gfp()
            .args([cmd, bare])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(format!("did you mean 0x{bare}?")));
    }
    for expr in ["GFP_KERNEL|", "|GFP_KERNEL", "GFP_KERNEL||__GFP_NOWARN"] {
        for cmd in ["decode", "explain"] {
            gfp()
                .args([cmd, expr])
                .assert()
                .code(2)
                .stderr(predicate::str::contains("a `|` with no flag on one side"));
        }
    }
    for arg in ["__GFP_NOWARN|", "", "NOWARN,,FS"] {
        gfp()
            .args(["check-scope", "--set", arg])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("empty flag name"));
    }
}

/// `--kernel`: before the first profile is refused with the supported
/// range; after the newest, the newest layout is used and every command
/// says so on stderr.
#[test]
fn kernel_versions_outside_the_profiles() {
    for cmd in [
        &["decode", "0x1"][..],
        &["explain", "GFP_KERNEL"],
        &["profile"],
    ] {
        gfp()
            .args(cmd)
            .args(["--kernel", "2.4"])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("Linux 3.0 to 7.1"));
        gfp()
            .args(cmd)
            .args(["--kernel", "9.3"])
            .assert()
            .success()
            .stderr(predicate::str::contains(
                "warning: Linux 9.3 is newer than the newest known release 7.1; using the 7.1 layout",
            ));
    }
    gfp()
        .args(["decode", "--kernel", "7.1", "0x1"])
        .assert()
        .success()
        .stderr("");
}

/// `--config`: one syntax (`CONFIG_X=y|n`, any case of y and n, or a
/// .config file), clear errors for everything else, and no option the
/// chosen kernel lacks.
#[test]
fn config_options_are_consistent() {
    let ok = |args: &[&str], out: &str| {
        gfp()
            .args(["decode", "--kernel", "6.16"])
            .args(args)
            .arg("0x1000cc0")
            .assert()
            .success()
            .stdout(out.to_string());
    };
    ok(
        &["--config", "CONFIG_LOCKDEP=Y", "--config", "SLAB_OBJ_EXT=n"],
        "0x1000cc0(GFP_KERNEL|__GFP_NOLOCKDEP)\n",
    );
    let dot = temp_file(
        "config",
        ".config",
        "CONFIG_LOCKDEP=y\n# CONFIG_SLAB_OBJ_EXT is not set\n# CONFIG_MEMCG is not set\nCONFIG_HZ=250\n",
    );
    ok(
        &["--config", dot.to_str().unwrap()],
        "0x1000cc0(GFP_KERNEL|__GFP_NOLOCKDEP)\n",
    );
    for (opt, says) in [
        (
            "CONFIG_LOCKDEP",
            "give a value, CONFIG_LOCKDEP=y or CONFIG_LOCKDEP=n",
        ),
        ("CONFIG_LOCKDEP=m", "bool, not tristate"),
        ("CONFIG_LOCKDEP=", "no value"),
        ("=y", "no option name"),
        ("CONFIG_LOCKDEP=maybe", "not y or n"),
        ("CONFIG_FOO=y", "CONFIG_FOO does not move GFP bits"),
        (
            "CONFIG_KMEMCHECK=y",
            "CONFIG_KMEMCHECK exists in Linux 2.6 to 4.14 only, not in Linux 6.12",
        ),
        ("/no/such/.config", "cannot read .config /no/such/.config"),
    ] {
        gfp()
            .args(["decode", "--kernel", "6.12", "--config", opt, "0x1"])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(says));
    }
    gfp()
        .args([
            "decode",
            "--kernel",
            "5.4",
            "--config",
            "CONFIG_SLAB_OBJ_EXT=y",
            "0x1",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "exists from Linux 6.10 on, not in Linux 5.4",
        ));
    gfp()
        .args([
            "decode",
            "--kernel",
            "3.2",
            "--config",
            "CONFIG_KMEMCHECK=y",
            "0x1",
        ])
        .assert()
        .success();
}

/// An order above MAX_PAGE_ORDER is refused at once, with a warning
/// unless __GFP_NOWARN; the limit is named as the kernel of the profile
/// names it.
#[test]
fn explain_refuses_orders_above_the_largest() {
    gfp()
        .args(["explain", "GFP_KERNEL", "--order", "11"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "order 11 is above MAX_PAGE_ORDER (10)",
        ))
        .stdout(predicate::str::contains("WARNING"))
        .stdout(predicate::str::contains("may compact").not());
    gfp()
        .args([
            "explain",
            "GFP_KERNEL|__GFP_NOWARN",
            "--order",
            "11",
            "--kernel",
            "4.4",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "above MAX_ORDER (11; orders up to 10)",
        ))
        .stdout(predicate::str::contains("silent"));
}

/// A pre-4.6 report prints the mask in hex, then its banner: the report is
/// decoded under that banner (text and JSON), and the text stays in order.
#[test]
fn decode_uses_the_banner_printed_after_the_mask() {
    let log = "[ 0.9] hello\n\
               [ 1.0] kworker/0:1: page allocation failure: order:0, mode:0x2080020\n\
               [ 1.0] CPU: 0 PID: 123 Comm: kworker/0:1 Not tainted 4.4.0-21-generic #37-Ubuntu\n\
               [ 1.0] Hardware name: QEMU\n";
    let out = gfp().arg("decode").write_stdin(log).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].ends_with("hello"), "{text}");
    assert!(lines[1].contains("page allocation failure"), "{text}");
    assert!(lines[2].starts_with("    | "), "{text}");
    assert!(text.contains("GFP_ATOMIC"), "{text}");
    assert!(text.contains("Linux 4.4.0"), "{text}");
    assert!(!text.contains("no banner"), "{text}");
    let banner = lines
        .iter()
        .position(|l| l.contains("Not tainted"))
        .unwrap();
    assert!(lines[banner + 1].contains("Hardware name"), "{text}");
    assert!(
        lines[2..banner].iter().all(|l| l.starts_with("    | ")),
        "{text}"
    );
    let out = gfp()
        .args(["decode", "--json"])
        .write_stdin(log)
        .output()
        .unwrap();
    let v: serde_json::Value =
        serde_json::from_str(String::from_utf8(out.stdout).unwrap().trim()).unwrap();
    assert_eq!(v["line"], 2);
    assert_eq!(v["version_source"], "banner");
    assert_eq!(v["rendered"], "GFP_ATOMIC");
}

/// A line with nothing but a mask is decoded, as `gfp decode MASK` would.
#[test]
fn decode_reads_bare_masks_on_stdin() {
    gfp()
        .arg("decode")
        .write_stdin("0xcc0\n")
        .assert()
        .success()
        .stdout(predicate::str::starts_with("0xcc0\n    | "))
        .stdout(predicate::str::contains("GFP_KERNEL"));
    let out = gfp()
        .args(["decode", "--json", "--kernel", "6.12"])
        .write_stdin("junk\n3264\r\ncc0\n")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(
        (v["line"].as_u64(), v["mask"].as_str()),
        (Some(2), Some("0xcc0"))
    );
    gfp()
        .arg("decode")
        .write_stdin("GFP_KERNEL|__GFP_NOWARN\n")
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "    | 0x2cc0 = GFP_KERNEL|__GFP_NOWARN",
        ));
}

/// A full disk on stdout is an error (exit 2, said on stderr), not a panic
/// in `println!` (exit 101).
#[test]
fn a_failing_stdout_is_an_error_not_a_panic() {
    if !std::path::Path::new("/dev/full").exists() {
        return;
    }
    for args in [
        &["scopes"][..],
        &["scopes", "--json"],
        &["explain", "GFP_KERNEL"],
        &["profile", "--list"],
        &["sim", "--list"],
        &["mm", "--idle"],
        &["check-scope", "--set", "NOWARN"],
        &["decode", "0x1"],
    ] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("gfp"))
            .args(args)
            .stdout(full)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("writing the output"), "{args:?}: {err}");
    }
}

/// Input files that are not regular files (`/dev/zero` used to be read
/// forever), directories, invalid UTF-8 and empty files are errors that
/// say so, with exit 2.
#[test]
fn input_files_at_their_limits() {
    let dir = std::env::temp_dir().join(format!("gfp-cli-inputs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.to_str().unwrap();
    let bad = temp_file("inputs", "bad", b"\xff\xfe\x00");
    let bad = bad.to_str().unwrap();
    let mut cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["sim", d], "it is a directory"),
        (vec!["decode", "--profile", d, "0x1"], "it is a directory"),
        (vec!["decode", "--config", d, "0x1"], "it is a directory"),
        (vec!["sim", bad], "not UTF-8"),
        (vec!["decode", "--profile", bad, "0x1"], "not UTF-8"),
        (vec!["scan", d, "--allocators", d], "it is a directory"),
        (vec!["scan", d, "--allocators", bad], "not UTF-8"),
        (vec!["scan", d, "--baseline", d], "it is a directory"),
        (vec!["scan", d, "--baseline", bad], "not UTF-8"),
        (
            vec!["scan", d, "--kernel", "abc"],
            "--kernel: `abc` is not a kernel version",
        ),
        (
            vec!["scan", d, "--rules", "-no-such-rule"],
            "--rules: `-no-such-rule`: no rule `no-such-rule`",
        ),
    ];
    if std::path::Path::new("/dev/zero").exists() {
        cases.extend([
            (vec!["sim", "/dev/zero"], "not a regular file"),
            (
                vec!["decode", "--profile", "/dev/zero", "0x1"],
                "not a regular file",
            ),
            (
                vec!["decode", "--config", "/dev/zero", "0x1"],
                "not a regular file",
            ),
            (
                vec!["profile", "--from-source", d, "--kconfig", "/dev/zero"],
                "not a regular file",
            ),
            (
                vec!["scan", d, "--allocators", "/dev/zero"],
                "not a regular file",
            ),
        ]);
    }
    for (args, says) in cases {
        gfp()
            .args(&args)
            .timeout(std::time::Duration::from_secs(30))
            .assert()
            .code(2)
            .stderr(predicate::str::contains(says));
    }
}

/// A line longer than 16 MiB is passed through unscanned, in bounded
/// memory (an endless line used to grow the buffer without limit), and the
/// lines after it keep their numbers.
#[test]
fn decode_passes_huge_lines_through() {
    let mut log = b"mode:0xcc0(GFP_KERNEL) ".to_vec();
    log.extend(std::iter::repeat_n(b'x', 20 << 20));
    log.extend_from_slice(
        b"\n[ 2.0] a: page allocation failure: order:0, mode:0xcc0(GFP_KERNEL)\n",
    );
    let out = gfp()
        .args(["decode", "--json"])
        .write_stdin(log.clone())
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "{}", &text[..text.len().min(500)]);
    let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(v["line"], 2);
    let out = gfp()
        .arg("decode")
        .write_stdin(log.clone())
        .output()
        .unwrap();
    assert!(out.status.success());
    let first = log.iter().position(|&b| b == b'\n').unwrap() + 1;
    assert!(
        out.stdout.starts_with(&log[..first]),
        "the long line, unchanged"
    );
    let rest = String::from_utf8_lossy(&out.stdout[first..]);
    assert!(
        rest.starts_with("[ 2.0] a: page allocation failure"),
        "{rest}"
    );
    assert!(rest.contains("    | 0xcc0 = GFP_KERNEL"), "{rest}");
}

/// A scenario or .config file whose name is not UTF-8 is read (clap used
/// to refuse the argument).
#[cfg(unix)]
#[test]
fn sim_takes_a_file_name_that_is_not_utf8() {
    use std::os::unix::ffi::OsStrExt;
    let ok = temp_file("non-utf8-name", "x", "gfp-scenario 1\n");
    let path = ok.with_file_name(std::ffi::OsStr::from_bytes(b"\xff.scn"));
    std::fs::rename(&ok, &path).unwrap();
    gfp()
        .arg("sim")
        .arg(&path)
        .assert()
        .success()
        .stdout(predicate::str::contains("findings: none"));
    let dot = temp_file("non-utf8-name", "y", "CONFIG_LOCKDEP=y\n");
    let path = dot.with_file_name(std::ffi::OsStr::from_bytes(b"\xfe.config"));
    std::fs::rename(&dot, &path).unwrap();
    gfp()
        .args(["decode", "--kernel", "6.16", "--config"])
        .arg(&path)
        .arg("0x1000cc0")
        .assert()
        .success()
        .stdout(predicate::str::contains("__GFP_NOLOCKDEP"));
}

fn scan_fixture(name: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../gfp-scan/tests/fixtures")
        .join(name);
    p.to_string_lossy().into_owned()
}

#[test]
fn scan_exit_status_follows_the_findings() {
    let tree = scan_fixture("tree");
    // Errors (sleep-in-atomic) exist: exit 1, grouped by rule with chains.
    gfp()
        .args(["scan", &tree, "--kernel", "6.12"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("== sleep-in-atomic"))
        .stdout(predicate::str::contains(
            "mm/chains.c:21 three_down_locked -> level1",
        ));
    gfp()
        .args(["scan", &tree, "--kernel", "6.12", "--fail-on", "never"])
        .assert()
        .success();
    // Only notes in a proposal that breaks nothing: exit 0 at the default threshold.
    gfp()
        .args([
            "scan",
            &scan_fixture("propose"),
            "--kernel",
            "6.12",
            "--around",
            "outer",
            "--propose",
            "nofs",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("scope-changes"));
    gfp()
        .args([
            "scan",
            &scan_fixture("propose"),
            "--kernel",
            "6.12",
            "--around",
            "outer",
            "--propose",
            "set __GFP_NOFAIL",
        ])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("scope-breaks"));
}

/// A baseline taken from the JSON of the same scan leaves nothing, exit 0;
/// a baseline that is not one says what is wrong, exit 2.
#[test]
fn scan_with_a_baseline_reports_only_new_findings() {
    let tree = scan_fixture("tree");
    let out = gfp()
        .args(["scan", &tree, "--kernel", "6.12", "--json"])
        .output()
        .unwrap();
    let base = temp_file("baseline", "json", &out.stdout);
    let base = base.to_str().unwrap();
    gfp()
        .args(["scan", &tree, "--kernel", "6.12", "--baseline", base])
        .assert()
        .success()
        .stdout(predicate::str::contains("of the baseline were left out"))
        .stdout(predicate::str::contains("; 0 findings in"));
    let wrong = temp_file("baseline-wrong", "json", br#"{"findings": [{"rule": 1}]}"#);
    gfp()
        .args(["scan", &tree, "--baseline", wrong.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("findings[0].rule: not a string"));
    let log = temp_file("baseline-log", "txt", b"not json at all\n");
    gfp()
        .args(["scan", &tree, "--baseline", log.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not JSON"));
}

#[test]
fn scan_json_and_sarif_parse() {
    let tree = scan_fixture("tree");
    let out = gfp()
        .args(["scan", &tree, "--kernel", "6.12", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kernel"], "6.12");
    assert!(v["findings"].as_array().unwrap().len() > 20);
    let out = gfp()
        .args(["scan", &tree, "--kernel", "6.12", "--sarif"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
}

#[test]
fn scan_says_when_the_kernel_is_newer_than_every_layout() {
    let tree = scan_fixture("tree");
    gfp()
        .args(["scan", &tree, "--kernel", "9.9", "--fail-on", "never"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "Linux 9.9 is newer than the newest known release",
        ));
}

#[test]
fn scan_usage_errors_exit_2_and_say_why() {
    let tree = scan_fixture("tree");
    let readme = format!("{}/../../README.md", env!("CARGO_MANIFEST_DIR"));
    let empty = std::env::temp_dir().join(format!("gfp-scan-empty-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let empty = empty.to_string_lossy().into_owned();
    for (args, says) in [
        (vec!["scan", "/nonexistent/dir"], "no such file"),
        (vec!["scan", &readme], "not a C source file"),
        (vec!["scan", &empty], "no .c or .h files"),
        (vec!["scan", &tree, "--around", "outer"], "--propose"),
        (
            vec![
                "scan",
                &tree,
                "--around",
                "outer",
                "--propose",
                "clear GFP_NOWAIT",
            ],
            "not a single __GFP_ flag",
        ),
        (
            vec![
                "scan",
                &tree,
                "--around",
                "no_such_function",
                "--propose",
                "nofs",
            ],
            "no function of that name",
        ),
        (vec!["scan", &tree, "--kernel", "banana"], "--kernel"),
        (vec!["scan", &tree, "--kernel", "2.6"], "cover Linux 3.0"),
        (
            vec!["scan", &tree, "--rules", "+everything"],
            "unknown rule set",
        ),
        (vec!["scan", &tree, "--jobs", "0"], "0"),
        (vec!["scan", &tree, "--arch", "../x"], "--arch"),
        (
            vec!["scan", &tree, "--json", "--sarif"],
            "cannot be used with",
        ),
        (vec!["scan"], "<DIR>"),
        (
            vec!["scan", "--explain", "sleep-in-atmoic"],
            "no such rule (rules: sleep-in-atomic,",
        ),
        (
            vec!["scan", "--explain", "sleep-in-atomic", "--json"],
            "cannot be used with",
        ),
    ] {
        gfp()
            .args(&args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(says));
    }
    let bad = std::env::temp_dir().join(format!("gfp-scan-alloc-{}.txt", std::process::id()));
    std::fs::write(&bad, "kmalloc zero\n").unwrap();
    gfp()
        .args(["scan", &tree, "--allocators", bad.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(":1:"));
    std::fs::remove_file(&bad).ok();
}

#[test]
fn scan_explains_each_rule_without_a_tree() {
    for rule in ["sleep-in-atomic", "redundant-gfp-noio", "scope-changes"] {
        gfp()
            .args(["scan", "--explain", rule])
            .assert()
            .success()
            .stdout(predicate::str::contains(rule))
            .stdout(predicate::str::contains("What"))
            .stdout(predicate::str::contains("Why it matters"));
    }
}
