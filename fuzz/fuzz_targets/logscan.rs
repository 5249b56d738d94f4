//! Feeds arbitrary bytes through the log scanner's three entry points
//! (`scan_line` on lossily decoded lines, `scan_bytes` on raw lines,
//! `scan_chunk` on the whole input) and the annotation, and checks the
//! findings' invariants and that the entry points agree.
//!
//! The scanners are reused across inputs (with their banner state reset), so
//! that the fuzzer spends its time on parsing rather than on rebuilding the
//! caches; the results never depend on what is cached.
#![no_main]

use std::cell::RefCell;

use gfp::logscan::{annotate, LogScanner, ScanOptions, MAX_FINDINGS_PER_LINE};
use libfuzzer_sys::fuzz_target;

thread_local! {
    static SCANNERS: RefCell<[LogScanner; 3]> = RefCell::new([
        LogScanner::new(ScanOptions::default()),
        LogScanner::new(ScanOptions::default()),
        LogScanner::new(ScanOptions::default()),
    ]);
}

fuzz_target!(|data: &[u8]| {
    SCANNERS.with(|s| {
        let [text_scanner, byte_scanner, chunk_scanner] = &mut *s.borrow_mut();
        text_scanner.reset();
        byte_scanner.reset();
        chunk_scanner.reset();
        let mut expected = Vec::new();
        let mut lines = 0;
        let pieces = data.split(|&b| b == b'\n').count();
        for (n, raw) in data.split(|&b| b == b'\n').enumerate() {
            if n + 1 == pieces && raw.is_empty() {
                break; // the empty piece after a final newline is no line
            }
            lines += 1;
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            let line = String::from_utf8_lossy(raw);
            let findings = text_scanner.scan_line(n + 1, &line);
            assert!(findings.len() <= MAX_FINDINGS_PER_LINE);
            for f in &findings {
                assert_eq!(f.line, n + 1);
                assert!(f.span.0 <= f.span.1 && f.span.1 <= line.len());
                if f.printed.is_none() {
                    assert!(f.agreeing_versions.is_empty());
                }
                let text = annotate(f);
                assert!(!text.is_empty());
            }
            assert_eq!(byte_scanner.scan_bytes(n + 1, raw), findings);
            if !findings.is_empty() {
                expected.push((n + 1, findings));
            }
        }
        let scan = chunk_scanner.scan_chunk(1, data);
        assert_eq!(scan.lines, lines);
        let got: Vec<_> = scan
            .found
            .into_iter()
            .map(|l| (l.line, l.findings))
            .collect();
        assert_eq!(got, expected);
    });
});
