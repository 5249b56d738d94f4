//! Findings and the three output forms: text grouped by rule, JSON, SARIF 2.1.0.

use std::fmt::Write as _;

use serde::Serialize;

use crate::facts::Call;

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; no bug.
    Note,
    /// Probably wrong.
    Warning,
    /// A bug the kernel would hit.
    Error,
}

impl Severity {
    /// The name used on the command line and in output.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    /// Parses `note`, `warning`, `error`.
    pub fn parse(s: &str) -> Option<Severity> {
        Some(match s {
            "note" => Severity::Note,
            "warning" => Severity::Warning,
            "error" => Severity::Error,
            _ => return None,
        })
    }
}

/// The allocation a finding is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AllocRef {
    /// Its file, relative to the scanned root.
    pub file: String,
    /// The 1-based line of the allocation call.
    pub line: u32,
    /// The allocator called.
    pub call: String,
    /// The mask argument as written.
    pub gfp: String,
    /// The mask in force, as the scanned kernel prints it.
    pub effective: String,
}

/// The context that makes the allocation a problem.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ContextRef {
    /// What it is: a section's kind, an entry point's kind, `scope`, `proposal`...
    pub kind: String,
    /// The function holding the section, scope or proposal.
    pub function: String,
    /// Its file.
    pub file: String,
    /// The 1-based line where the context opens.
    pub line: u32,
    /// The call that opens it.
    pub call: String,
}

/// One call of an evidence chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Hop {
    /// The calling function.
    pub function: String,
    /// Its file.
    pub file: String,
    /// The 1-based line of the call.
    pub line: u32,
    /// The function called.
    pub call: String,
    /// The member the call reads the function from, for a call
    /// `--follow-ops` followed through a structure, with how many functions
    /// it may be (`->setup`, `->report, one of 5`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// The branch conditions the call is made under, outermost first, as
    /// written (`!vdev->stats`, `type == RESOURCE_UNCACHED_MEMORY`): read
    /// back from the source to explain the path, see [`crate::guards`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub when: Vec<String>,
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The rule's stable id.
    pub rule: &'static str,
    /// Its severity.
    pub severity: Severity,
    /// The allocation, for rules about one.
    pub alloc: Option<AllocRef>,
    /// The section, scope, entry point or proposal.
    pub context: ContextRef,
    /// The calls from the context to the allocation, shortest first found.
    pub chain: Vec<Hop>,
    /// What is wrong, in a sentence.
    pub message: String,
}

/// The result of a scan.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The scanned directory, as given.
    pub root: String,
    /// The kernel version whose layout and task flags were used.
    pub kernel: String,
    /// Files parsed.
    pub files: usize,
    /// Function definitions found.
    pub functions: usize,
    /// Syntax errors recovered from.
    pub parse_errors: u64,
    /// Wall time of the scan.
    pub elapsed_ms: u64,
    /// The findings, by rule then place.
    pub findings: Vec<Finding>,
    /// Figures that are not part of the JSON form.
    #[serde(skip)]
    pub stats: Stats,
    /// The directory the findings' paths are relative to, absolute: the
    /// scanned directory, or the directory of a scanned file (SARIF's
    /// `SRCROOT`). Not part of the JSON form.
    #[serde(skip)]
    pub base: std::path::PathBuf,
}

/// The scan's figures beyond the JSON fields.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Files skipped (no function bodies possible, or generated).
    pub skipped_files: usize,
    /// C files left out because no build for the architecture compiles
    /// them (Kconfig and Makefiles).
    pub unbuildable_files: usize,
    /// Bytes parsed.
    pub bytes: u64,
    /// Call sites indexed.
    pub calls: u64,
    /// Allocation call sites (table allocators).
    pub alloc_sites: u64,
    /// Scope-opening sites.
    pub scope_sites: u64,
    /// Calls through function pointers, not followed.
    pub indirect_calls: u64,
    /// Of those, followed through ops initialisers (`--follow-ops`).
    pub indirect_followed: u64,
    /// Of those, not followed because more functions than `--ops-targets`
    /// allows may be called there: (calls, the bound).
    pub indirect_generic: (u64, usize),
    /// Milliseconds of wall time until every file was parsed.
    pub parse_wall_ms: u64,
    /// Functions a proposal's `--around` matched.
    pub around_matches: usize,
    /// sleep-in-atomic findings left out for a chain longer than the bound.
    pub long_chains: usize,
    /// Findings left out because the baseline has them.
    pub baselined: usize,
    /// Rules not run or reported (`--rules -RULE`).
    pub rules_left_out: Vec<&'static str>,
    /// When the scan covers part of a kernel tree (a directory inside it,
    /// or one file): the tree and the part's place in it (`fs/`,
    /// `mm/vmalloc.c`). Calls out of the part are then not followed.
    pub inside_tree: Option<(String, String)>,
}

/// `n` and `noun`, plural unless `n` is 1 (`1 finding`, `3 findings`).
fn counted(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// The verb for `n` things: `was` or `were`.
fn was(n: usize) -> &'static str {
    if n == 1 {
        "was"
    } else {
        "were"
    }
}

/// The mask argument of an allocation call as written.
pub fn gfp_arg_text(alloc: &crate::vocab::Allocators, c: &Call) -> String {
    alloc
        .get(&c.callee)
        .and_then(|a| a.gfp.index(c.args.len()))
        .map(|i| c.args[i].clone())
        .unwrap_or_else(|| c.args.join(", "))
}

impl Report {
    /// The JSON form.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report serialises")
    }

    /// Text grouped by rule, each finding with its chain.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let mut rules: Vec<&str> = Vec::new();
        for f in &self.findings {
            if !rules.contains(&f.rule) {
                rules.push(f.rule);
            }
        }
        for rule in &rules {
            let these: Vec<&Finding> = self.findings.iter().filter(|f| f.rule == *rule).collect();
            let _ = writeln!(out, "== {rule} ({})", these.len());
            for f in these {
                let (file, line) = match &f.alloc {
                    Some(a) => (a.file.as_str(), a.line),
                    None => (f.context.file.as_str(), f.context.line),
                };
                let _ = writeln!(
                    out,
                    "{file}:{line}: {}[{}]: {}",
                    f.severity.name(),
                    f.rule,
                    f.message
                );
                for h in &f.chain {
                    let _ = writeln!(
                        out,
                        "    {}:{} {} -> {}{}{}",
                        h.file,
                        h.line,
                        h.function,
                        h.call,
                        via_text(h.via.as_deref()),
                        when_text(&h.when)
                    );
                }
            }
            out.push('\n');
        }
        let s = &self.stats;
        let _ = writeln!(
            out,
            "scanned {} ({:.1} MB, {} skipped), {}, {}, {}, {}; {} recovered",
            counted(self.files, "file"),
            s.bytes as f64 / 1e6,
            s.skipped_files,
            counted(self.functions, "function"),
            counted(s.calls as usize, "call"),
            counted(s.alloc_sites as usize, "allocation site"),
            counted(s.scope_sites as usize, "scope site"),
            counted(self.parse_errors as usize, "parse error")
        );
        if s.unbuildable_files > 0 {
            let _ = writeln!(
                out,
                "{} C files that no build for this architecture compiles (Kconfig and Makefiles) were left out (--all-configs scans them)",
                s.unbuildable_files
            );
        }
        let _ = writeln!(
            out,
            "{} through function pointers {} not followed{}",
            counted((s.indirect_calls - s.indirect_followed) as usize, "call"),
            was((s.indirect_calls - s.indirect_followed) as usize),
            if s.indirect_followed > 0 || s.indirect_generic.0 > 0 {
                let generic = match s.indirect_generic {
                    (0, _) => String::new(),
                    (n, 1) => format!(
                        "; {n} that may call more than one function {} not: --ops-targets N follows up to N",
                        was(n as usize)
                    ),
                    (n, k) => format!(
                        "; {n} that may call more than {k} functions {} not",
                        was(n as usize)
                    ),
                };
                format!(
                    " ({} followed through ops initialisers{generic})",
                    s.indirect_followed
                )
            } else {
                " (--follow-ops follows those whose member has an initialiser)".to_string()
            }
        );
        if let Some((tree, part)) = &s.inside_tree {
            let _ = writeln!(
                out,
                "only {part} of the kernel tree {tree} was scanned: calls to functions defined elsewhere in the tree were not followed (scan the tree to follow them)"
            );
        }
        if s.long_chains > 0 {
            let _ = writeln!(
                out,
                "{} with longer call chains {} left out (--max-chain raises the bound, 0 removes it)",
                counted(s.long_chains, "sleep-in-atomic finding"),
                was(s.long_chains)
            );
        }
        if !s.rules_left_out.is_empty() {
            let _ = writeln!(
                out,
                "rules left out (--rules): {}",
                s.rules_left_out.join(", ")
            );
        }
        if s.baselined > 0 {
            let _ = writeln!(
                out,
                "{} of the baseline {} left out (--baseline)",
                counted(s.baselined, "finding"),
                was(s.baselined)
            );
        }
        let secs = self.elapsed_ms as f64 / 1000.0;
        let _ = writeln!(
            out,
            "kernel {}; {} in {:.2} s ({:.0} files/s, {:.1} MB/s; parsing {:.0}% of the wall time)",
            self.kernel,
            counted(self.findings.len(), "finding"),
            secs,
            self.files as f64 / secs.max(1e-3),
            s.bytes as f64 / 1e6 / secs.max(1e-3),
            100.0 * s.parse_wall_ms as f64 / (self.elapsed_ms.max(1)) as f64
        );
        out
    }

    /// SARIF 2.1.0.
    pub fn to_sarif(&self) -> String {
        use serde_json::json;
        let rules: Vec<_> = crate::rules::id::ALL
            .iter()
            .map(|(id, sev, _)| {
                json!({
                    "id": id,
                    "name": id,
                    "shortDescription": {"text": rule_text(id)},
                    "help": {"text": crate::rule_docs::explain(id).unwrap_or_default()},
                    "defaultConfiguration": {"level": sev},
                })
            })
            .collect();
        let results: Vec<_> = self
            .findings
            .iter()
            .map(|f| {
                let (file, line) = match &f.alloc {
                    Some(a) => (a.file.clone(), a.line),
                    None => (f.context.file.clone(), f.context.line),
                };
                let flow: Vec<_> = f
                    .chain
                    .iter()
                    .map(|h| {
                        json!({"location": {
                            "physicalLocation": {"artifactLocation": {"uri": h.file, "uriBaseId": "SRCROOT"}, "region": {"startLine": h.line}},
                            "message": {"text": format!("{} calls {}{}{}", h.function, h.call, via_text(h.via.as_deref()), when_text(&h.when))}
                        }})
                    })
                    .collect();
                let mut r = json!({
                    "ruleId": f.rule,
                    "level": f.severity.name(),
                    "message": {"text": f.message},
                    "locations": [{"physicalLocation": {
                        "artifactLocation": {"uri": file, "uriBaseId": "SRCROOT"},
                        "region": {"startLine": line}
                    }}],
                    "relatedLocations": [{"id": 0, "physicalLocation": {
                        "artifactLocation": {"uri": f.context.file, "uriBaseId": "SRCROOT"},
                        "region": {"startLine": f.context.line}
                    }, "message": {"text": format!("{} in {}", f.context.kind, f.context.function)}}],
                    "partialFingerprints": {"gfpScanFinding/v1": crate::baseline::fingerprint(f)},
                });
                if !flow.is_empty() {
                    r["codeFlows"] = json!([{"threadFlows": [{"locations": flow}]}]);
                }
                r
            })
            .collect();
        let doc = json!({
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [{
                "tool": {"driver": {
                    "name": "gfp scan",
                    "informationUri": "https://example.invalid/gfp",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                }},
                "originalUriBaseIds": {"SRCROOT": {"uri": dir_uri(&self.base)}},
                "results": results,
            }]
        });
        serde_json::to_string_pretty(&doc).expect("SARIF serialises")
    }
}

/// The member an indirect hop goes through, for the text outputs:
/// ` [via ->setup]`.
fn via_text(via: Option<&str>) -> String {
    via.map_or_else(String::new, |v| format!(" [via {v}]"))
}

/// A hop's conditions for the text outputs: ` (when a && b)`, each
/// condition that has an `||` or `?:` of its own in parentheses.
fn when_text(when: &[String]) -> String {
    if when.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = when
        .iter()
        .map(|c| {
            if when.len() > 1 && (c.contains("||") || c.contains('?')) {
                format!("({c})")
            } else {
                c.clone()
            }
        })
        .collect();
    format!(" (when {})", parts.join(" && "))
}

/// The `file:` URI of a directory, with a closing `/` (SARIF resolves
/// relative URIs against it) and the bytes a URI path cannot hold
/// percent-encoded.
pub fn dir_uri(dir: &std::path::Path) -> String {
    let mut uri = String::from("file://");
    for b in dir.to_string_lossy().trim_end_matches('/').bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            uri.push(b as char);
        } else {
            let _ = write!(uri, "%{b:02X}");
        }
    }
    uri.push('/');
    uri
}

/// One line on what a rule finds.
pub fn rule_text(id: &str) -> &'static str {
    use crate::rules::id::*;
    match id {
        SLEEP_IN_ATOMIC => "An allocation that may sleep (__GFP_DIRECT_RECLAIM) reachable inside an atomic section or from an atomic entry point",
        NOFAIL_NO_RECLAIM => "A __GFP_NOFAIL allocation whose effective mask lacks __GFP_DIRECT_RECLAIM",
        REDUNDANT_NOFS => "An explicit GFP_NOFS inside a scope that already clears __GFP_FS on every path",
        REDUNDANT_NOIO => "An explicit GFP_NOIO inside a scope that already clears __GFP_IO on every path",
        UNPAIRED_SCOPE => "A memalloc_*_save() without its restore on some path",
        NOFS_CANDIDATE => "An explicit GFP_NOFS outside any scope: a candidate for memalloc_nofs_save()",
        NOIO_CANDIDATE => "An explicit GFP_NOIO outside any scope: a candidate for memalloc_noio_save()",
        SCOPE_BREAKS => "A proposed scope breaks a nested allocation, as the scope policy says",
        SCOPE_CHANGES => "A proposed scope changes a nested allocation's mask without breaking it",
        _ => "",
    }
}
