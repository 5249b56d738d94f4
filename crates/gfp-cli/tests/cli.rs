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

#[test]
fn decode_json() {
    let out = gfp()
        .args(["decode", "--json", "--kernel", "6.12", "0x400dc0"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["rendered"], "0x400dc0(GFP_KERNEL_ACCOUNT|__GFP_ZERO)");
    assert_eq!(v[0]["mask"], "0x400dc0");
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

/// The block-wise stream finds exactly what the line-by-line scanner finds,
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
    let mut scanner = gfp::logscan::LogScanner::default();
    let mut expected = Vec::new();
    for (i, raw) in log.split(|&b| b == b'\n').enumerate() {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        for f in scanner.scan_line(i + 1, &String::from_utf8_lossy(raw)) {
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
