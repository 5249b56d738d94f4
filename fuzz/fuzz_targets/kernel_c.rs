//! Feeds arbitrary text to `gfp scan` as one kernel C file: the
//! preprocessor pass, the lexical reader, tree-sitter's recovery, the
//! call graph, every rule, and the branch conditions read back for the
//! chains (`gfp_scan::guards`), which are also asked for at offsets all
//! over each function body; half the inputs with `--follow-ops`. Nothing
//! may panic or hang.
//!
//! Run it with `-detect_leaks=0`: each scan starts a worker thread, and
//! LeakSanitizer now and then counts glibc's bookkeeping of a thread that
//! has just exited (`__cxa_thread_atexit_impl`) as a leak.
#![no_main]

use gfp_scan::{guards, lexical, scan, ScanOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let code = lexical::code_only(data);
    for r in lexical::regions(&code) {
        let (open, end) = (r.open, r.end.min(data.len()));
        if open >= end {
            continue;
        }
        for pos in (0..end - open).step_by(5) {
            let _ = guards::conditions(&data[open..end], &code[open..end], pos);
        }
    }
    let dir = std::env::temp_dir().join(format!("gfp-fuzz-kernel-c-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let file = dir.join("fuzz.c");
    if std::fs::write(&file, data).is_ok() {
        // Half the inputs also follow calls through ops members (up to
        // four targets), which the default scan leaves alone.
        let follow = data.first().is_some_and(|b| b & 1 == 1);
        let opts = ScanOptions {
            max_chain: 0,
            jobs: Some(1),
            follow_ops: follow,
            ops_targets: 4,
            ..ScanOptions::default()
        };
        let _ = scan(&file, &opts, None);
    }
});
