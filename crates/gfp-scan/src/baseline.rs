//! Baselines: the findings of an earlier run, so that a scan run on every
//! build reports only what is new.
//!
//! A baseline is the `--json` output of an earlier `gfp scan`. A finding is
//! the one of the baseline when its rule, its context (kind, function and
//! file), its allocation (file and call) and the calls of its chain are
//! the same: lines are left out, so an edit above a finding does not bring
//! it back. Each finding of the baseline stands for one finding of the
//! scan (two findings with one key need two in the baseline).

use std::collections::HashMap;

use serde_json::Value;

use crate::report::{Finding, Report};

/// What identifies a finding across edits: rule, context kind, context
/// function, context file, allocation file, allocation call, and the
/// chain's (function, call) pairs.
type Key = (
    String,
    String,
    String,
    String,
    String,
    String,
    Vec<(String, String)>,
);

/// The findings of an earlier run, by what identifies each across edits,
/// with how many each has.
#[derive(Clone, Debug, Default)]
pub struct Baseline {
    known: HashMap<Key, usize>,
    len: usize,
}

/// A baseline that cannot be read: what is wrong and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BaselineError(pub String);

impl Baseline {
    /// Reads a baseline from the JSON text of an earlier `gfp scan --json`.
    pub fn from_json(text: &str) -> Result<Baseline, BaselineError> {
        let v: Value = serde_json::from_str(text).map_err(|e| {
            BaselineError(format!(
                "not JSON ({e}); give the output of an earlier `gfp scan --json`"
            ))
        })?;
        let findings = v.get("findings").and_then(Value::as_array).ok_or_else(|| {
            BaselineError(
                "no `findings` list: give the output of an earlier `gfp scan --json`".into(),
            )
        })?;
        let mut b = Baseline::default();
        for (i, f) in findings.iter().enumerate() {
            let key = json_key(f).map_err(|what| BaselineError(format!("findings[{i}]{what}")))?;
            *b.known.entry(key).or_default() += 1;
            b.len += 1;
        }
        Ok(b)
    }

    /// How many findings the baseline holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the baseline holds no finding.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Takes out of `report` the findings the baseline has, each baseline
    /// finding standing for one; gives how many were taken out.
    pub fn drop_known(&self, report: &mut Report) -> usize {
        let mut left = self.known.clone();
        let before = report.findings.len();
        report.findings.retain(|f| match left.get_mut(&key(f)) {
            Some(n) if *n > 0 => {
                *n -= 1;
                false
            }
            _ => true,
        });
        let dropped = before - report.findings.len();
        report.stats.baselined = dropped;
        dropped
    }
}

/// A finding's identity across edits as 16 hex digits: a 64-bit FNV-1a
/// hash of what [`Baseline`] compares (rule, context, allocation file and
/// call, the chain's calls; no lines). SARIF gives it to code-scanning UIs
/// as the result's partial fingerprint, so that a finding keeps its
/// history when code above it moves.
pub fn fingerprint(f: &Finding) -> String {
    let (rule, kind, function, file, alloc_file, alloc_call, chain) = key(f);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |s: &str| {
        for b in s.bytes().chain(std::iter::once(0)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for part in [rule, kind, function, file, alloc_file, alloc_call] {
        eat(&part);
    }
    for (function, call) in chain {
        eat(&function);
        eat(&call);
    }
    format!("{h:016x}")
}

/// The key of a finding of this run.
fn key(f: &Finding) -> Key {
    let (alloc_file, alloc_call) = f
        .alloc
        .as_ref()
        .map(|a| (a.file.clone(), a.call.clone()))
        .unwrap_or_default();
    (
        f.rule.to_string(),
        f.context.kind.clone(),
        f.context.function.clone(),
        f.context.file.clone(),
        alloc_file,
        alloc_call,
        f.chain
            .iter()
            .map(|h| (h.function.clone(), h.call.clone()))
            .collect(),
    )
}

/// The key of a finding of the baseline's JSON, or the path of what is
/// missing in it (`.context.function: not a string`).
fn json_key(f: &Value) -> Result<Key, String> {
    let text = |v: &Value, path: &str| -> Result<String, String> {
        let mut at = v;
        for part in path.split('.') {
            at = at.get(part).ok_or_else(|| format!(".{path}: missing"))?;
        }
        at.as_str()
            .map(str::to_string)
            .ok_or_else(|| format!(".{path}: not a string"))
    };
    let rule = text(f, "rule")?;
    let kind = text(f, "context.kind")?;
    let function = text(f, "context.function")?;
    let file = text(f, "context.file")?;
    let (alloc_file, alloc_call) = match f.get("alloc") {
        None | Some(Value::Null) => (String::new(), String::new()),
        Some(a) if a.is_object() => (
            text(a, "file").map_err(|e| format!(".alloc{e}"))?,
            text(a, "call").map_err(|e| format!(".alloc{e}"))?,
        ),
        Some(_) => return Err(".alloc: neither null nor an object".into()),
    };
    let chain = match f.get("chain") {
        None => return Err(".chain: missing".into()),
        Some(c) => c
            .as_array()
            .ok_or_else(|| ".chain: not a list".to_string())?
            .iter()
            .enumerate()
            .map(|(i, h)| {
                Ok((
                    text(h, "function").map_err(|e| format!(".chain[{i}]{e}"))?,
                    text(h, "call").map_err(|e| format!(".chain[{i}]{e}"))?,
                ))
            })
            .collect::<Result<Vec<_>, String>>()?,
    };
    Ok((rule, kind, function, file, alloc_file, alloc_call, chain))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{AllocRef, ContextRef, Hop, Severity};

    fn finding(line: u32, function: &str) -> Finding {
        Finding {
            rule: "sleep-in-atomic",
            severity: Severity::Error,
            alloc: Some(AllocRef {
                file: "a.c".into(),
                line,
                call: "kmalloc".into(),
                gfp: "GFP_KERNEL".into(),
                effective: "0xcc0(GFP_KERNEL)".into(),
            }),
            context: ContextRef {
                kind: "spinlock".into(),
                function: function.into(),
                file: "a.c".into(),
                line: line - 2,
                call: "spin_lock".into(),
            },
            chain: vec![Hop {
                function: function.into(),
                file: "a.c".into(),
                line,
                call: "kmalloc".into(),
                via: None,
                when: Vec::new(),
            }],
            message: format!("at line {line}"),
        }
    }

    #[test]
    fn a_fingerprint_ignores_lines_and_follows_the_chain() {
        let a = fingerprint(&finding(10, "f"));
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        // Code above moved: the same finding.
        assert_eq!(fingerprint(&finding(42, "f")), a);
        // Another function holds the section: another finding.
        assert_ne!(fingerprint(&finding(10, "g")), a);
        let mut other_call = finding(10, "f");
        other_call.chain[0].call = "vmalloc".into();
        assert_ne!(fingerprint(&other_call), a);
    }

    fn report(findings: Vec<Finding>) -> Report {
        Report {
            base: std::path::PathBuf::from("/k"),
            root: "r".into(),
            kernel: "6.12".into(),
            files: 1,
            functions: 1,
            parse_errors: 0,
            elapsed_ms: 0,
            findings,
            stats: Default::default(),
        }
    }

    #[test]
    fn known_findings_go_whatever_their_lines() {
        let old = report(vec![finding(10, "f"), finding(20, "g")]);
        let b = Baseline::from_json(&old.to_json()).unwrap();
        assert_eq!(b.len(), 2);
        // Both moved down three lines, and a new one came.
        let mut new = report(vec![finding(13, "f"), finding(23, "g"), finding(30, "h")]);
        assert_eq!(b.drop_known(&mut new), 2);
        assert_eq!(new.findings.len(), 1);
        assert_eq!(new.findings[0].context.function, "h");
        assert_eq!(new.stats.baselined, 2);
    }

    #[test]
    fn each_baseline_finding_stands_for_one() {
        let b = Baseline::from_json(&report(vec![finding(10, "f")]).to_json()).unwrap();
        let mut new = report(vec![finding(10, "f"), finding(12, "f")]);
        assert_eq!(b.drop_known(&mut new), 1);
        assert_eq!(new.findings.len(), 1);
    }

    #[test]
    fn bad_baselines_say_what_is_wrong() {
        let e = Baseline::from_json("{").unwrap_err();
        assert!(e.0.contains("not JSON"), "{e}");
        let e = Baseline::from_json("[]").unwrap_err();
        assert!(e.0.contains("no `findings` list"), "{e}");
        let e = Baseline::from_json(r#"{"findings": [{"rule": "x"}]}"#).unwrap_err();
        assert_eq!(e.0, "findings[0].context.kind: missing");
        let e = Baseline::from_json(
            r#"{"findings": [{"rule": "x", "context": {"kind": "k", "function": "f", "file": 3}}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.0, "findings[0].context.file: not a string");
        let e = Baseline::from_json(
            r#"{"findings": [{"rule": "x", "context": {"kind": "k", "function": "f", "file": "a"}, "alloc": 1, "chain": []}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.0, "findings[0].alloc: neither null nor an object");
        let e = Baseline::from_json(
            r#"{"findings": [{"rule": "x", "context": {"kind": "k", "function": "f", "file": "a"}, "alloc": null, "chain": [{"function": "f"}]}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.0, "findings[0].chain[0].call: missing");
        assert!(Baseline::from_json(r#"{"findings": []}"#)
            .unwrap()
            .is_empty());
    }
}
