//! Reading kernel logs and traces for gfp masks.
//!
//! [`LogScanner`] reads a log one line at a time (dmesg, `journalctl -k`, OOM
//! reports, `/sys/kernel/debug/page_owner`, `trace_pipe`, `perf script`,
//! `trace-cmd report`) and returns a [`Finding`] for every gfp mask a line
//! carries. [`annotate`] turns a finding into a few lines of text to print
//! under the log line.
//!
//! # Message families
//!
//! | family | token | example |
//! |---|---|---|
//! | `warn_alloc()` (page allocation failure and stall, vmalloc, vmemmap) | `mode:0x..(names)`, `mode:0x..` before 4.6 | `kworker/0:1: page allocation failure: order:4, mode:0x40cc0(GFP_KERNEL\|__GFP_COMP), nodemask=(null)` |
//! | OOM report header | `gfp_mask=0x..(names)`, `gfp_mask=0x..,` before 4.6 | `bash invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=-1, oom_score_adj=0` |
//! | SLUB / SLAB | `gfp=0x..(names)`, `(gfp=0x..)` before 4.6 | `SLUB: Unable to allocate memory on node -1, gfp=0xa20(GFP_ATOMIC)` |
//! | page_owner, `dump_page()` | `mask 0x..(names)`, `gfp_mask 0x..(names)` | `Page allocated via order 0, mask 0x400dc0(GFP_KERNEL_ACCOUNT\|__GFP_ZERO), pid 1, ...` |
//! | `kmalloc_fix_flags()` | `gfp: 0x.. (names)` twice | `Unexpected gfp: 0x4 (GFP_DMA32). Fixing up to gfp: 0xcc0 (GFP_KERNEL). Fix your code!` |
//! | names only | `DMA: ... KiB <names> pool`, `<names> allocation from offline node`, `gfp=<names>` (test_lockup) | `DMA: preallocated 1024 KiB GFP_KERNEL\|GFP_DMA pool for atomic allocations` |
//! | tracepoints | `gfp_flags=`, `gfp_flags ` (mm_shrink_slab_start), `gfp_mask=` (compaction), `flags=` (dma), `mask=` (btrfs), `name=%u (names)` (synthetic events) | `kmem:mm_page_alloc: page=... order=0 migratetype=0 gfp_flags=GFP_KERNEL` |
//! | XFS, OpenZFS/SPL (hex only) | `(mode:0x..)`, `lflags=0x..` | `XFS: kworker/1:2(123) possible memory allocation deadlock size 65552 in kmem_alloc (mode:0x250)` |
//! | a bare mask | a line with nothing but `0x..` hex, decimal digits, or names | `0xcc0`, `GFP_KERNEL\|__GFP_NOWARN` |
//!
//! # Which kernel?
//!
//! A mask means different things in different kernels, so every finding says
//! which [`Profile`] decoded it ([`Finding::profile`]) and why
//! ([`Finding::version_source`]):
//!
//! 1. a profile forced by the user ([`ScanOptions::profile`]) always wins;
//! 2. otherwise the last version banner in the log (`Linux version 6.12.8 ...`,
//!    `CPU: 3 PID: 1 Comm: x Not tainted 5.4.0-42-generic #46-Ubuntu`,
//!    `... Tainted: G W 6.1.0-18-amd64 #1`) selects the version, with the
//!    configuration of a typical distribution kernel; a later banner replaces
//!    it. A report's own banner comes after its mask line (`dump_stack()`
//!    follows the warning): [`ReportScanner`] holds a mask line for the
//!    few lines that may bring it, and decodes it under that banner. When printed names only match that release under another
//!    configuration (say `CONFIG_KASAN_HW_TAGS`), the scanner switches to that
//!    configuration for the following lines too;
//! 3. without either, a line that prints names is decoded with the newest
//!    release whose renderer prints exactly those names; a hex-only line is
//!    decoded with the newest profile, or, when the message format itself
//!    dates the line (`mode:0x20` without names is from before 4.6), with the
//!    most plausible layout of that period. Such findings list the eras in
//!    which the mask's meaning differs.
//!
//! Independently of the choice, [`Finding::agreeing_versions`] lists every
//! supported release whose renderer prints the line's names for its mask
//! under some configuration: the names serve as an oracle for the version.
//!
//! # Cost
//!
//! A line without a mask costs one pass over its bytes and no allocation;
//! [`LogScanner::scan_bytes`] takes the raw line and skips even the UTF-8
//! decoding for such lines.
//! Results are cached per (mask, printed names, renderer, profile), so a log
//! repeating the same masks costs a few reference-count increments per
//! finding. Every step is linear in the line length, and the scanner never
//! panics, whatever the input.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt::Write;

use serde::{Serialize, Serializer};

use crate::flags::Gfp;
use crate::profile::{history, KernelConfig, KernelVersion, Profile};
use crate::render;

mod prefilter;
mod tokens;

pub use prefilter::TRIGGERS;
use prefilter::*;
pub use tokens::maybe_bare;
use tokens::*;

/// How many masks one line may yield at most; further tokens are ignored.
/// (Real lines carry one or two; the limit only bounds hostile input.)
pub const MAX_FINDINGS_PER_LINE: usize = 64;

/// Longest names text considered a kernel rendering (`%pGg` of a mask with
/// every bit set is well under this).
const MAX_NAMES_LEN: usize = 1024;

/// Cached results kept before the caches are flushed.
const MAX_CACHE_ENTRIES: usize = 4096;

/// Profiles kept for banners before the table is flushed.
const MAX_PROFILES: usize = 256;

// ---------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------

/// The lines of a block that carry gfp masks ([`LogScanner::scan_chunk`]).
#[derive(Clone, Debug, PartialEq)]
pub struct ChunkScan {
    /// How many lines the block holds (the next block's first line number
    /// is `first_line_no + lines`).
    pub lines: usize,
    /// The lines with findings, in order.
    pub found: Vec<LineFindings>,
}

/// One line of a block and its findings.
#[derive(Clone, Debug, PartialEq)]
pub struct LineFindings {
    /// The line number (as in [`Finding::line`]).
    pub line: usize,
    /// The line's bytes within the block, without the `\n` (and `\r`).
    pub range: core::ops::Range<usize>,
    /// The findings, as [`LogScanner::scan_bytes`] returns them.
    pub findings: Vec<Finding>,
}

/// Options of a [`LogScanner`].
#[derive(Clone, Debug, Default)]
pub struct ScanOptions {
    /// A profile chosen by the user (`--kernel`, `--config`, `--profile`).
    /// When set, version banners in the log do not change the decoding; a
    /// banner that names another release is mentioned in the notes.
    pub profile: Option<Profile>,
}

impl ScanOptions {
    /// Options that force `profile` for every line.
    pub fn with_profile(profile: Profile) -> ScanOptions {
        ScanOptions {
            profile: Some(profile),
        }
    }
}

/// Which of the kernel's renderers produced (or would produce) the names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Renderer {
    /// `%pGg` in a printk message ([`render::pgg`]).
    Pgg,
    /// A tracepoint as the kernel prints it in `trace`/`trace_pipe`
    /// ([`render::trace`]).
    Trace,
    /// A tracepoint as `perf script` or `trace-cmd report` print it
    /// ([`render::libtraceevent`]).
    Libtraceevent,
    /// A `gfp_t` field of a synthetic event (`name=%u (FLAGS)`), printed
    /// with the `%pGg` table and an empty string for zero.
    Synthetic,
}

/// Why a finding was decoded with its profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VersionSource {
    /// The user forced the profile ([`ScanOptions::profile`]).
    Forced,
    /// A version banner in the log: the line's report's own (with
    /// [`ReportScanner`]), or an earlier one.
    Banner,
    /// No banner: the newest release whose renderer prints the line's names.
    Names,
    /// No banner: the period the message format dates from.
    Format,
    /// No banner and nothing to date the line: the newest profile.
    Unknown,
}

/// A gfp mask found in a log line, decoded.
///
/// The first seven fields are the stable JSON interface:
/// `{"line": 3, "message": "page allocation failure", "mask": "0x40cc0",
/// "printed": "GFP_KERNEL|__GFP_COMP", "profile": "Linux 6.12 (...)",
/// "rendered": "GFP_KERNEL|__GFP_COMP", "agreeing_versions": ["5.1", ...], ...}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    /// The line number given to [`LogScanner::scan_line`].
    pub line: usize,
    /// The kind of message, e.g. `page allocation failure`, `oom-killer`,
    /// `slub`, `page_owner`, `tracepoint mm_page_alloc`.
    pub message: Cow<'static, str>,
    /// The mask (serialized as `0x` hex). For names-only lines, the names
    /// decoded under [`Finding::profile`].
    #[serde(serialize_with = "ser_hex")]
    pub mask: u32,
    /// The names exactly as the line printed them (`""` for `0x0()`), or
    /// `None` when the line printed the mask in hex only.
    #[serde(serialize_with = "ser_opt_arc_str")]
    pub printed: Option<Arc<str>>,
    /// The label of the profile used to decode the mask.
    #[serde(serialize_with = "ser_arc_str")]
    pub profile: Arc<str>,
    /// The kernel's rendering of `mask` under that profile, by the renderer
    /// the line used ([`Finding::renderer`]).
    #[serde(serialize_with = "ser_arc_str")]
    pub rendered: Arc<str>,
    /// Every supported release (`X.Y`) whose renderer, under some
    /// configuration, prints `printed` for this mask. Empty when `printed`
    /// is `None`.
    #[serde(serialize_with = "ser_versions")]
    pub agreeing_versions: Arc<[KernelVersion]>,
    /// `agreeing_versions` compressed into ranges, e.g. `5.1–6.7, 6.10–7.1`.
    #[serde(serialize_with = "ser_arc_str")]
    pub agreeing_ranges: Arc<str>,
    /// The configurations that reproduce `printed`, grouped by release:
    /// `any configuration`, or e.g. `LOCKDEP=n, KASAN_HW_TAGS=n,
    /// SLAB_OBJ_EXT=n on 6.15–7.1; any configuration on 5.1–5.13, 5.18–6.14`.
    /// Empty when nothing agrees.
    #[serde(serialize_with = "ser_arc_str")]
    pub agreeing_configs: Arc<str>,
    /// The renderer of `rendered`.
    pub renderer: Renderer,
    /// Why [`Finding::profile`] was chosen.
    pub version_source: VersionSource,
    /// The allocation order (`order:N`, `order=N`), when the line has one
    /// (`-1` for a manual OOM kill through sysrq).
    pub order: Option<i32>,
    /// The task name, when the line has one.
    pub comm: Option<String>,
    /// The byte range of the mask's text in the line.
    pub span: (usize, usize),
    /// The same flags as the newest release (with the distribution
    /// configuration) names them, followed by flags it lacks and by flags
    /// that no longer exist (`(gone today: __GFP_COLD)`).
    #[serde(serialize_with = "ser_arc_str")]
    pub modern: Arc<str>,
    /// [`crate::explain::brief`] of the mask, in today's layout.
    #[serde(serialize_with = "ser_arc_str")]
    pub explanation: Arc<str>,
    /// Remarks: unknown version, mismatching names, bits in holes, what the
    /// order means, what the message's mask reflects.
    #[serde(serialize_with = "ser_notes")]
    pub notes: Arc<[String]>,
    /// The mask in today's layout ([`Profile::to_native`]); not serialized.
    #[serde(skip)]
    pub native: Gfp,
}

fn ser_hex<S: Serializer>(v: &u32, s: S) -> Result<S::Ok, S::Error> {
    let mut buf = String::new();
    let _ = write!(buf, "{v:#x}");
    s.serialize_str(&buf)
}

fn ser_arc_str<S: Serializer>(v: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v)
}

fn ser_opt_arc_str<S: Serializer>(v: &Option<Arc<str>>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(t) => s.serialize_some(&**t),
        None => s.serialize_none(),
    }
}

fn ser_versions<S: Serializer>(v: &Arc<[KernelVersion]>, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(v.len()))?;
    let mut buf = String::new();
    for k in v.iter() {
        buf.clear();
        let _ = write!(buf, "{k}");
        seq.serialize_element(buf.as_str())?;
    }
    seq.end()
}

fn ser_notes<S: Serializer>(v: &Arc<[String]>, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(v.len()))?;
    for n in v.iter() {
        seq.serialize_element(n.as_str())?;
    }
    seq.end()
}

/// A compact annotation of `finding` to print under its log line: the names
/// under the chosen profile, the explanation, a warning when the printed
/// names differ from that rendering, the releases whose names agree, and
/// the notes. Lines are indented by four spaces and joined by `\n` (no
/// trailing newline).
pub fn annotate(finding: &Finding) -> String {
    let mut out = String::new();
    let names: &str = if finding.rendered.is_empty() {
        "no flags"
    } else {
        &finding.rendered
    };
    let _ = write!(
        out,
        "    {:#x} = {}  [{}",
        finding.mask, names, finding.profile
    );
    match finding.version_source {
        VersionSource::Forced => out.push_str(", forced"),
        VersionSource::Banner => out.push_str(", from the log's banner"),
        VersionSource::Names => out.push_str(", version guessed from the names"),
        VersionSource::Format => out.push_str(", version guessed from the message format"),
        VersionSource::Unknown => out.push_str(", version unknown"),
    }
    out.push(']');
    if !finding.modern.is_empty() && !same_names(&finding.modern, &finding.rendered) {
        let _ = write!(out, "\n    today: {}", finding.modern);
    }
    if !finding.explanation.is_empty() {
        let _ = write!(out, "\n    {}", finding.explanation);
    }
    if let Some(p) = &finding.printed {
        if **p != *finding.rendered {
            let shown: &str = if p.is_empty() { "(nothing)" } else { p };
            let _ = write!(
                out,
                "\n    ! mismatch: the line printed {shown}, this profile prints {names}"
            );
        }
        if finding.agreeing_versions.is_empty() {
            out.push_str("\n    printed names match no supported release");
        } else {
            let _ = write!(
                out,
                "\n    printed names match Linux {} ({})",
                finding.agreeing_ranges, finding.agreeing_configs
            );
        }
    }
    for n in finding.notes.iter() {
        let _ = write!(out, "\n    note: {n}");
    }
    out
}

/// Whether two renderings name the same flags, in any order.
fn same_names(a: &str, b: &str) -> bool {
    let mut x: Vec<&str> = a.split('|').collect();
    let mut y: Vec<&str> = b.split('|').collect();
    x.sort_unstable();
    y.sort_unstable();
    x == y
}

// ---------------------------------------------------------------------------
// The catalogue of supported releases and their distinct name tables
// ---------------------------------------------------------------------------

/// Every supported release under every configuration, with identical
/// rendering tables shared.
struct Catalog {
    versions: Vec<KernelVersion>,
    configs: Vec<KernelConfig>,
    /// Distinct profiles (by layout and tables).
    tables: Vec<Profile>,
    /// `map[v][c]`: the table of `versions[v]` under `configs[c]`.
    map: Vec<Vec<u16>>,
}

impl Catalog {
    fn build() -> Catalog {
        let versions = history::supported_versions();
        let configs: Vec<KernelConfig> = KernelConfig::all_combinations().collect();
        let mut tables: Vec<Profile> = Vec::new();
        let mut index: BTreeMap<u64, Vec<u16>> = BTreeMap::new();
        let mut intern = |p: Profile| -> u16 {
            let bucket = index.entry(table_hash(&p)).or_default();
            let found = bucket
                .iter()
                .copied()
                .find(|&i| same_tables(&tables[i as usize], &p));
            match found {
                Some(i) => i,
                None => {
                    let i = tables.len() as u16;
                    tables.push(p);
                    bucket.push(i);
                    i
                }
            }
        };
        let mut map = Vec::with_capacity(versions.len());
        for &v in &versions {
            // Most options mean nothing to most releases (KMEMCHECK before
            // 4.0, SLAB_OBJ_EXT before 6.10...). Find the ones that change
            // this release's tables on their own, and build only their
            // combinations; an option that changes nothing alone is assumed
            // to change nothing in combination either.
            let base = history::build(v, KernelConfig::default());
            let mut relevant = 0u8;
            let mut built: Vec<(u8, u16)> = Vec::new();
            for bit in 0..4u8 {
                let c = config_from_bits(1 << bit);
                let p = history::build(v, c);
                if !same_tables(&p, &base) {
                    relevant |= 1 << bit;
                    built.push((1 << bit, intern(p)));
                }
            }
            built.push((0, intern(base)));
            let mut row = Vec::with_capacity(configs.len());
            for &c in &configs {
                let bits = config_bits(c) & relevant;
                let i = match built.iter().find(|(b, _)| *b == bits) {
                    Some(&(_, i)) => i,
                    None => {
                        let i = intern(history::build(v, config_from_bits(bits)));
                        built.push((bits, i));
                        i
                    }
                };
                row.push(i);
            }
            map.push(row);
        }
        Catalog {
            versions,
            configs,
            tables,
            map,
        }
    }

    fn config_index(&self, c: KernelConfig) -> usize {
        self.configs.iter().position(|&x| x == c).unwrap_or(0)
    }

    /// The index of the table of `versions[v]` with the distribution
    /// configuration.
    fn distro_table_index(&self, v: usize) -> usize {
        let c = self.config_index(history::distro_config(self.versions[v]));
        self.map[v][c] as usize
    }
}

#[cfg(feature = "std")]
fn shared_catalog() -> Arc<Catalog> {
    static CATALOG: std::sync::OnceLock<Arc<Catalog>> = std::sync::OnceLock::new();
    CATALOG.get_or_init(|| Arc::new(Catalog::build())).clone()
}

#[cfg(not(feature = "std"))]
fn shared_catalog() -> Arc<Catalog> {
    Arc::new(Catalog::build())
}

fn fnv(h: &mut u64, bytes: &[u8]) {
    for &b in bytes {
        *h ^= u64::from(b);
        *h = h.wrapping_mul(0x100_0000_01b3);
    }
}

fn table_hash(p: &Profile) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    let lists = [
        Some(&p.flags),
        Some(&p.composites),
        p.pgg_names.as_ref(),
        Some(&p.trace_names),
    ];
    for list in lists {
        match list {
            None => fnv(&mut h, b"\x00none"),
            Some(l) => {
                fnv(&mut h, &(l.len() as u32).to_le_bytes());
                for e in l {
                    fnv(&mut h, e.name.as_bytes());
                    fnv(&mut h, &e.mask.to_le_bytes());
                }
            }
        }
    }
    fnv(&mut h, p.trace_zero.as_bytes());
    fnv(&mut h, &[u8::from(p.trace_userspace_hex)]);
    fnv(&mut h, &p.bits_mask.to_le_bytes());
    h
}

fn same_tables(a: &Profile, b: &Profile) -> bool {
    a.flags == b.flags
        && a.composites == b.composites
        && a.pgg_names == b.pgg_names
        && a.trace_names == b.trace_names
        && a.trace_zero == b.trace_zero
        && a.trace_userspace_hex == b.trace_userspace_hex
        && a.bits_mask == b.bits_mask
}

// ---------------------------------------------------------------------------
// Scanner state
// ---------------------------------------------------------------------------

/// A profile the scanner decodes with, with what it derived from it.
struct Entry {
    id: u32,
    profile: Profile,
    label: Arc<str>,
    /// Bits inside `bits_mask` that no flag owns.
    holes: u32,
}

struct Banner {
    version: KernelVersion,
    entry: Arc<Entry>,
}

/// Which releases print a given text for a given mask.
struct Agreement {
    versions: Arc<[KernelVersion]>,
    ranges: Arc<str>,
    /// Which configurations reproduce the names, per run of releases.
    config_ranges: Arc<str>,
    /// For each agreeing version, a bit per `Catalog::configs` index.
    configs: Vec<(KernelVersion, u32)>,
}

/// Everything about a finding that does not depend on the line itself.
struct Analysis {
    mask: u32,
    label: Arc<str>,
    rendered: Arc<str>,
    renderer: Renderer,
    source: VersionSource,
    agreement: Arc<Agreement>,
    modern: Arc<str>,
    explanation: Arc<str>,
    notes: Arc<[String]>,
    native: Gfp,
    /// A configuration the banner's release must have, learnt from names.
    switch_to: Option<Arc<Entry>>,
}

type AnalysisKey = (u32, u8, u8, u64, i64, u64);
type AgreeCache = BTreeMap<(u8, u64), Vec<(Box<str>, Arc<Agreement>)>>;
type AnalysisCache = BTreeMap<AnalysisKey, Vec<(Option<Box<str>>, Arc<Analysis>)>>;

/// Reads a log line by line and finds the gfp masks in it.
///
/// The scanner is stateful: version banners select the profile for the
/// lines after them, and results are cached. Feed it the lines of one log
/// in order.
pub struct LogScanner {
    forced: Option<Arc<Entry>>,
    banner: Option<Banner>,
    entries: BTreeMap<(u64, u8), Arc<Entry>>,
    next_id: u32,
    catalog: Option<Arc<Catalog>>,
    agree_cache: AgreeCache,
    analysis_cache: AnalysisCache,
    era_cache: BTreeMap<(u8, u32, u64), Arc<str>>,
    cached: usize,
    empty_agreement: Arc<Agreement>,
}

impl core::fmt::Debug for LogScanner {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LogScanner")
            .field("forced", &self.forced.as_ref().map(|e| &*e.label))
            .field("banner", &self.banner.as_ref().map(|b| b.version))
            .field("cached", &self.cached)
            .finish()
    }
}

/// How many lines after a mask line its report's version banner may come.
/// `dump_stack()` prints `CPU: 0 PID: 1 Comm: x Not tainted 4.4.0-21-generic
/// ...` right after the allocation-failure or OOM line (after a
/// `cpuset=... mems_allowed=...` continuation on some kernels); the rest
/// allows for a line or two of other output interleaved.
pub const REPORT_BANNER_WINDOW: usize = 3;

/// A [`LogScanner`] that gives a report's mask line the version banner of
/// the same report, printed before or after it.
///
/// An allocation-failure or OOM report prints the mask first and the
/// version in `dump_stack()`'s `CPU: ... Not tainted 4.4.0-21-generic` line
/// just after it. So a line with findings is held until the next line that
/// has findings, or [`REPORT_BANNER_WINDOW`] lines, pass; when a
/// `dump_stack()` banner (`Tainted: ` or `Not tainted `) comes first, the
/// held line is decoded again under it. (`Linux version` boot banners start
/// a new log and never apply backwards.) With a profile forced by the
/// user, nothing is held.
///
/// Lines come back in order, each with its findings, as soon as they are
/// settled; call [`ReportScanner::finish`] at the end of the log.
#[derive(Debug, Default)]
pub struct ReportScanner {
    scanner: LogScanner,
    held: Option<HeldLine>,
}

#[derive(Debug)]
struct HeldLine {
    line_no: usize,
    raw: Vec<u8>,
    findings: Vec<Finding>,
}

impl ReportScanner {
    /// A scanner with `options`.
    pub fn new(options: ScanOptions) -> Self {
        ReportScanner {
            scanner: LogScanner::new(options),
            held: None,
        }
    }

    /// The line scanner underneath.
    pub fn scanner(&self) -> &LogScanner {
        &self.scanner
    }

    /// The line number of the line held for a banner, if any.
    pub fn holding(&self) -> Option<usize> {
        self.held.as_ref().map(|h| h.line_no)
    }

    /// Scans one raw line (as [`LogScanner::scan_bytes`]; line numbers must
    /// grow) and returns the lines now settled, in order: `(line number,
    /// findings)`, each with at least one finding.
    pub fn scan_bytes(&mut self, line_no: usize, line: &[u8]) -> Vec<(usize, Vec<Finding>)> {
        let mut out = Vec::new();
        if let Some(h) = self
            .held
            .take_if(|h| line_no > h.line_no + REPORT_BANNER_WINDOW)
        {
            out.push((h.line_no, h.findings));
        }
        let findings = self.scanner.scan_bytes(line_no, line);
        let banner = self.held.is_some() && is_report_banner(line);
        if let Some(h) = self.held.take() {
            if banner {
                let again = self.scanner.scan_bytes(h.line_no, &h.raw);
                out.push((h.line_no, again));
            } else if !findings.is_empty() {
                out.push((h.line_no, h.findings));
            } else {
                self.held = Some(h);
            }
        }
        if !findings.is_empty() {
            if self.scanner.forced.is_some() {
                out.push((line_no, findings));
            } else {
                self.held = Some(HeldLine {
                    line_no,
                    raw: line.to_vec(),
                    findings,
                });
            }
        }
        out
    }

    /// [`ReportScanner::scan_bytes`] on text.
    pub fn scan_line(&mut self, line_no: usize, line: &str) -> Vec<(usize, Vec<Finding>)> {
        self.scan_bytes(line_no, line.as_bytes())
    }

    /// The held line, when `line_no` is past the window in which its banner
    /// could come: for readers that skip lines without trigger tokens.
    pub fn expire(&mut self, line_no: usize) -> Option<(usize, Vec<Finding>)> {
        self.held
            .take_if(|h| line_no > h.line_no + REPORT_BANNER_WINDOW)
            .map(|h| (h.line_no, h.findings))
    }

    /// The end of the log: the held line, if any.
    pub fn finish(&mut self) -> Option<(usize, Vec<Finding>)> {
        self.held.take().map(|h| (h.line_no, h.findings))
    }
}

/// Whether a line is `dump_stack()`'s banner (`... Not tainted 4.4.0 ...`,
/// `... Tainted: G W 6.1.0 ...`) naming a release.
fn is_report_banner(line: &[u8]) -> bool {
    let has = |pat: &[u8]| line.windows(pat.len()).any(|w| w == pat);
    (has(b"Not tainted ") || has(b"Tainted: "))
        && parse_banner(&String::from_utf8_lossy(line)).is_some()
}

impl Default for LogScanner {
    fn default() -> Self {
        LogScanner::new(ScanOptions::default())
    }
}

fn config_bits(c: KernelConfig) -> u8 {
    u8::from(c.lockdep)
        | u8::from(c.kasan_hw_tags) << 1
        | u8::from(c.slab_obj_ext) << 2
        | u8::from(c.kmemcheck) << 3
}

/// The inverse of [`config_bits`].
fn config_from_bits(bits: u8) -> KernelConfig {
    KernelConfig {
        lockdep: bits & 1 != 0,
        kasan_hw_tags: bits & 2 != 0,
        slab_obj_ext: bits & 4 != 0,
        kmemcheck: bits & 8 != 0,
    }
}

fn make_entry(id: u32, profile: Profile) -> Arc<Entry> {
    let owned = profile.flags.iter().fold(0u32, |a, f| a | f.mask);
    let holes = profile.bits_mask & !owned;
    Arc::new(Entry {
        id,
        label: Arc::from(profile.label.as_str()),
        profile,
        holes,
    })
}

impl LogScanner {
    /// A scanner with `options`.
    pub fn new(options: ScanOptions) -> Self {
        let forced = options.profile.map(|p| make_entry(1, p));
        LogScanner {
            forced,
            banner: None,
            entries: BTreeMap::new(),
            next_id: 2,
            catalog: None,
            agree_cache: BTreeMap::new(),
            analysis_cache: BTreeMap::new(),
            era_cache: BTreeMap::new(),
            cached: 0,
            empty_agreement: Arc::new(Agreement {
                versions: Arc::from(Vec::new()),
                ranges: Arc::from(""),
                config_ranges: Arc::from(""),
                configs: Vec::new(),
            }),
        }
    }

    /// The release named by the last version banner seen, if any.
    pub fn banner_version(&self) -> Option<KernelVersion> {
        self.banner.as_ref().map(|b| b.version)
    }

    /// Forgets the banner (as at the start of a new log); caches are kept.
    pub fn reset(&mut self) {
        self.banner = None;
    }

    /// Scans one line. `line_no` is copied into the findings. Returns one
    /// finding per gfp mask in the line (none for most lines, two for the
    /// `Unexpected gfp` warning), in the order they appear. A version banner
    /// changes the profile for the following lines.
    ///
    /// Never panics; the work is linear in the length of the line, and a
    /// line without a mask allocates nothing.
    pub fn scan_line(&mut self, line_no: usize, line: &str) -> Vec<Finding> {
        self.scan_filtered(line_no, line, prefilter(line.as_bytes()))
    }

    /// [`LogScanner::scan_line`] once the line has been filtered.
    fn scan_filtered(&mut self, line_no: usize, line: &str, pre: Pre) -> Vec<Finding> {
        let keys = pre.keys;
        if keys == 0 {
            return match bare_mask(line) {
                Some(hit) => {
                    let mut ctx = LineCtx::new(line);
                    alloc::vec![self.finding(line_no, &mut ctx, &hit)]
                }
                None => Vec::new(),
            };
        }
        if keys & K_BANNER != 0 {
            if let Some(v) = parse_banner(line) {
                self.set_banner(v);
            }
        }
        if keys & !K_BANNER == 0 {
            return Vec::new();
        }
        let mut ctx = LineCtx::new(line);
        let mut hits = Vec::new();
        collect(&mut ctx, &pre, &mut hits);
        if hits.is_empty() {
            return match bare_names(line) {
                Some(hit) => alloc::vec![self.finding(line_no, &mut ctx, &hit)],
                None => Vec::new(),
            };
        }
        hits.sort_by_key(|h| h.start);
        hits.dedup_by_key(|h| h.start);
        hits.truncate(MAX_FINDINGS_PER_LINE);
        let mut out = Vec::with_capacity(hits.len());
        for hit in &hits {
            out.push(self.finding(line_no, &mut ctx, hit));
        }
        out
    }

    /// Scans one line given as raw bytes, as read from a file: the same as
    /// [`LogScanner::scan_line`] on `String::from_utf8_lossy(line)` (spans
    /// refer to that text), but a line without a trigger token is rejected
    /// before any UTF-8 decoding, which is most of the cost of reading a log.
    pub fn scan_bytes(&mut self, line_no: usize, line: &[u8]) -> Vec<Finding> {
        self.scan_bytes_filtered(line_no, line, prefilter(line))
    }

    /// [`LogScanner::scan_bytes`] once the raw line has been filtered.
    fn scan_bytes_filtered(&mut self, line_no: usize, line: &[u8], pre: Pre) -> Vec<Finding> {
        // Trigger tokens are ASCII, and lossy decoding keeps every ASCII
        // byte, so the filter gives the same answer on both forms.
        if pre.keys == 0 && !maybe_bare(line) {
            return Vec::new();
        }
        match String::from_utf8_lossy(line) {
            // Valid UTF-8: same bytes, same token positions.
            Cow::Borrowed(text) => self.scan_filtered(line_no, text, pre),
            // Replacement characters moved the positions.
            Cow::Owned(text) => self.scan_line(line_no, &text),
        }
    }

    /// Scans a block of complete lines (separated by `\n`; a final line
    /// without one counts as a line), as read from a file in large chunks.
    /// Line `i` of the block (from 0) is numbered `first_line_no + i`.
    ///
    /// The same as calling [`LogScanner::scan_bytes`] on every line (a
    /// trailing `\r` is dropped), but the block is searched for trigger
    /// tokens in one pass and only the lines that have one are split out,
    /// which is what makes reading a large log cheap.
    pub fn scan_chunk(&mut self, first_line_no: usize, chunk: &[u8]) -> ChunkScan {
        let mut found = Vec::new();
        let mut pos = 0;
        let mut counted = 0;
        let mut line_no = first_line_no;
        while let Some(j) = next_trigger(chunk, pos) {
            let start = last_newline(&chunk[pos..j]).map_or(pos, |k| pos + k + 1);
            let end = first_newline(&chunk[j..]).map_or(chunk.len(), |k| j + k);
            self.bare_lines(chunk, pos..start, &mut line_no, &mut counted, &mut found);
            line_no += count_newlines(&chunk[counted..start]);
            counted = start;
            let mut line = &chunk[start..end];
            if let Some(l) = line.strip_suffix(b"\r") {
                line = l;
            }
            // No trigger before `j`: filter the line from there on.
            let pre = prefilter_from(line, j - start);
            let findings = self.scan_bytes_filtered(line_no, line, pre);
            if !findings.is_empty() {
                found.push(LineFindings {
                    line: line_no,
                    range: start..start + line.len(),
                    findings,
                });
            }
            pos = end + 1;
        }
        if pos < chunk.len() {
            self.bare_lines(
                chunk,
                pos..chunk.len(),
                &mut line_no,
                &mut counted,
                &mut found,
            );
        }
        let mut lines = line_no - first_line_no + count_newlines(&chunk[counted..]);
        if chunk.last().is_some_and(|&c| c != b'\n') {
            lines += 1;
        }
        ChunkScan { lines, found }
    }

    /// The bare masks among the whole lines of `chunk[range]`, which hold
    /// no trigger token ([`LogScanner::scan_chunk`]).
    fn bare_lines(
        &mut self,
        chunk: &[u8],
        range: core::ops::Range<usize>,
        line_no: &mut usize,
        counted: &mut usize,
        found: &mut Vec<LineFindings>,
    ) {
        let mut s = range.start;
        while s < range.end {
            let e = first_newline(&chunk[s..range.end]).map_or(range.end, |k| s + k);
            let mut line = &chunk[s..e];
            if let Some(l) = line.strip_suffix(b"\r") {
                line = l;
            }
            if maybe_bare(line) {
                *line_no += count_newlines(&chunk[*counted..s]);
                *counted = s;
                let findings = self.scan_bytes_filtered(*line_no, line, Pre::NONE);
                if !findings.is_empty() {
                    found.push(LineFindings {
                        line: *line_no,
                        range: s..s + line.len(),
                        findings,
                    });
                }
            }
            s = e + 1;
        }
    }

    fn set_banner(&mut self, v: KernelVersion) {
        if let Some(b) = &self.banner {
            if b.version == v {
                return;
            }
        }
        let entry = self.entry(v, history::distro_config(v.release()));
        self.banner = Some(Banner { version: v, entry });
    }

    fn catalog(&mut self) -> Arc<Catalog> {
        match &self.catalog {
            Some(c) => c.clone(),
            None => {
                let c = shared_catalog();
                self.catalog = Some(c.clone());
                c
            }
        }
    }

    /// The interned profile of `version` with `config`.
    fn entry(&mut self, version: KernelVersion, config: KernelConfig) -> Arc<Entry> {
        let key = (version.key(), config_bits(config));
        if let Some(e) = self.entries.get(&key) {
            return e.clone();
        }
        if self.entries.len() >= MAX_PROFILES {
            self.entries.clear();
            self.flush_caches();
        }
        let oldest = history::supported_versions()
            .first()
            .copied()
            .unwrap_or(KernelVersion::new(3, 0));
        let mut profile = if version.release() < oldest {
            let mut p = Profile::for_version(oldest, config);
            p.notes.push(format!(
                "{version} predates the oldest modelled release {oldest}; using {oldest}"
            ));
            p.label = format!("Linux {oldest} ({config}) for {version}");
            p
        } else {
            Profile::for_version(version, config)
        };
        if profile.label.is_empty() {
            profile.label = format!("Linux {version} ({config})");
        }
        let e = make_entry(self.next_id, profile);
        self.next_id = self.next_id.wrapping_add(1).max(2);
        self.entries.insert(key, e.clone());
        e
    }

    fn flush_caches(&mut self) {
        self.agree_cache.clear();
        self.analysis_cache.clear();
        self.era_cache.clear();
        self.cached = 0;
    }

    fn note_cached(&mut self) {
        self.cached += 1;
        if self.cached > MAX_CACHE_ENTRIES {
            self.flush_caches();
        }
    }

    fn finding(&mut self, line_no: usize, ctx: &mut LineCtx<'_>, hit: &Hit<'_>) -> Finding {
        let order = if !hit.family.has_order()
            || (hit.family == Family::Trace
                && ctx
                    .event()
                    .is_some_and(|e| EVENTS_WITHOUT_ORDER.contains(&e)))
        {
            None
        } else {
            ctx.order()
        };
        let message = ctx.message(hit);
        let comm = ctx.comm(hit).map(ToString::to_string);
        let (basis_id, basis) = match (&self.forced, &self.banner) {
            (Some(f), _) => (f.id, Basis::Forced(f.clone())),
            (None, Some(b)) => (b.entry.id, Basis::Banner(b.entry.clone())),
            (None, None) => (0, Basis::Unknown),
        };
        let extra = match (&basis, &self.banner) {
            (Basis::Forced(_), Some(b)) => b.version.key(),
            _ => 0,
        };
        let key: AnalysisKey = (
            basis_id,
            hit.family as u8,
            hit.render_bits(),
            hit.hex.map_or(u64::MAX, u64::from),
            order.map_or(i64::MIN, i64::from),
            extra | (u64::from(hit.hint as u8) << 60),
        );
        let cached = self.analysis_cache.get(&key).and_then(|v| {
            v.iter()
                .find(|(p, _)| p.as_deref() == hit.printed)
                .map(|(_, a)| a.clone())
        });
        let analysis = match cached {
            Some(a) => a,
            None => {
                let a = Arc::new(self.analyze(&basis, hit, order));
                self.analysis_cache
                    .entry(key)
                    .or_default()
                    .push((hit.printed.map(Box::from), a.clone()));
                self.note_cached();
                a
            }
        };
        if let (Some(to), Some(b)) = (&analysis.switch_to, &mut self.banner) {
            if b.entry.id == basis_id {
                b.entry = to.clone();
            }
        }
        let printed = hit.printed.map(|p| match &analysis.rendered {
            r if **r == *p => r.clone(),
            _ => Arc::from(p),
        });
        Finding {
            line: line_no,
            message,
            mask: analysis.mask,
            printed,
            profile: analysis.label.clone(),
            rendered: analysis.rendered.clone(),
            agreeing_versions: analysis.agreement.versions.clone(),
            agreeing_ranges: analysis.agreement.ranges.clone(),
            agreeing_configs: analysis.agreement.config_ranges.clone(),
            renderer: analysis.renderer,
            version_source: analysis.source,
            order,
            comm,
            span: (hit.start, hit.end),
            modern: analysis.modern.clone(),
            explanation: analysis.explanation.clone(),
            notes: analysis.notes.clone(),
            native: analysis.native,
        }
    }

    // -- agreement ---------------------------------------------------------

    fn agreement(&mut self, class: RenderClass, hex: Option<u32>, printed: &str) -> Arc<Agreement> {
        let key = (class as u8, hex.map_or(u64::MAX, u64::from));
        if let Some(v) = self.agree_cache.get(&key) {
            if let Some((_, a)) = v.iter().find(|(p, _)| **p == *printed) {
                return a.clone();
            }
        }
        let cat = self.catalog();
        let mut matches: Vec<Option<bool>> = alloc::vec![None; cat.tables.len()];
        let mut versions = Vec::new();
        let mut configs = Vec::new();
        for (vi, &v) in cat.versions.iter().enumerate() {
            let mut bits = 0u32;
            for (ci, &t) in cat.map[vi].iter().enumerate() {
                let t = t as usize;
                let m = match matches[t] {
                    Some(m) => m,
                    None => {
                        let m = table_agrees(&cat.tables[t], class, hex, printed);
                        matches[t] = Some(m);
                        m
                    }
                };
                if m {
                    bits |= 1 << ci;
                }
            }
            if bits != 0 {
                versions.push(v);
                configs.push((v, bits));
            }
        }
        let ranges = compress_ranges(&cat.versions, &versions);
        let config_ranges = describe_config_runs(&cat.versions, &cat.configs, &configs);
        let a = Arc::new(Agreement {
            versions: Arc::from(versions),
            ranges: Arc::from(ranges.as_str()),
            config_ranges: Arc::from(config_ranges.as_str()),
            configs,
        });
        self.agree_cache
            .entry(key)
            .or_default()
            .push((Box::from(printed), a.clone()));
        self.note_cached();
        a
    }

    // -- eras ----------------------------------------------------------------

    /// `"3.0–4.3: GFP_KERNEL; 4.4–4.5: ..."` for the releases in `lo..=hi`
    /// in which `mask` means different things; `None` when it means the same
    /// everywhere.
    fn eras(
        &mut self,
        class: RenderClass,
        mask: u32,
        lo: KernelVersion,
        hi: KernelVersion,
    ) -> Option<Arc<str>> {
        let key = (class as u8, mask, (lo.key() << 1) ^ hi.key());
        if let Some(s) = self.era_cache.get(&key) {
            return if s.is_empty() { None } else { Some(s.clone()) };
        }
        let cat = self.catalog();
        let mut groups: Vec<(usize, usize, String)> = Vec::new();
        let mut prev: Option<crate::profile::Translation> = None;
        let mut prev_table = usize::MAX;
        for vi in 0..cat.versions.len() {
            let v = cat.versions[vi];
            if v < lo.release() || v > hi.release() {
                continue;
            }
            let ti = cat.distro_table_index(vi);
            if ti == prev_table {
                if let Some(g) = groups.last_mut() {
                    g.1 = vi;
                }
                continue;
            }
            prev_table = ti;
            let t = &cat.tables[ti];
            let tr = t.to_native(mask);
            let same = prev.as_ref() == Some(&tr);
            if same {
                if let Some(g) = groups.last_mut() {
                    g.1 = vi;
                }
            } else {
                let text = match class {
                    RenderClass::Trace => render::trace(t, mask),
                    _ => render::pgg(t, mask),
                };
                groups.push((vi, vi, text));
                prev = Some(tr);
            }
        }
        let s = if groups.len() <= 1 {
            String::new()
        } else {
            let mut s = String::new();
            for (n, (a, b, text)) in groups.iter().enumerate() {
                if n == 5 {
                    let _ = write!(s, "; … ({} more)", groups.len() - 5);
                    break;
                }
                if n > 0 {
                    s.push_str("; ");
                }
                push_range(&mut s, cat.versions[*a], cat.versions[*b]);
                let shown: &str = if text.is_empty() { "no flags" } else { text };
                let _ = write!(s, ": {shown}");
            }
            s
        };
        let s: Arc<str> = Arc::from(s.as_str());
        self.era_cache.insert(key, s.clone());
        self.note_cached();
        if s.is_empty() {
            None
        } else {
            Some(s)
        }
    }

    /// The most plausible release in `lo..=hi` for a hex-only mask: no
    /// undefined bits, then the fewest names (a leading composite counting
    /// as half a name less), then the newest.
    fn plausible_version(
        &mut self,
        class: RenderClass,
        mask: u32,
        lo: KernelVersion,
        hi: KernelVersion,
    ) -> KernelVersion {
        let cat = self.catalog();
        let mut best: Option<(u32, KernelVersion)> = None;
        let mut last_table = usize::MAX;
        let mut last_score = 0;
        for vi in 0..cat.versions.len() {
            let v = cat.versions[vi];
            if v < lo.release() || v > hi.release() {
                continue;
            }
            let c = cat.config_index(history::distro_config(v));
            let ti = cat.map[vi][c] as usize;
            let score = if ti == last_table {
                last_score
            } else {
                let t = &cat.tables[ti];
                let owned = t.flags.iter().fold(0u32, |a, f| a | f.mask);
                let undefined = (mask & !owned).count_ones();
                let text = match class {
                    RenderClass::Trace => render::trace(t, mask),
                    _ => render::pgg(t, mask),
                };
                let names = if text.is_empty() {
                    0
                } else {
                    text.split('|').count() as u32
                };
                let first = text.split('|').next().unwrap_or("");
                let composite = t.composites.iter().any(|c| c.name == first);
                undefined * 100 + names * 2 - u32::from(composite)
            };
            last_table = ti;
            last_score = score;
            if best.is_none_or(|(s, _)| score <= s) {
                best = Some((score, v));
            }
        }
        best.map_or(hi, |(_, v)| v)
    }

    // -- analysis ------------------------------------------------------------

    fn analyze(&mut self, basis: &Basis, hit: &Hit<'_>, order: Option<i32>) -> Analysis {
        let class = hit.class();
        let agreement = match hit.printed {
            Some(p) => self.agreement(class, hit.hex, p),
            None => self.empty_agreement.clone(),
        };
        let mut notes: Vec<String> = Vec::new();
        let (entry, source, switch_to) =
            self.decoding_entry(basis, hit, class, &agreement, &mut notes);
        let profile = &entry.profile;

        // The mask: hex when printed, otherwise decoded from the names.
        let mask = match hit.hex {
            Some(m) => m,
            None => {
                let text = hit.printed.unwrap_or("");
                let (m, unknown) = decode_lenient(profile, text, class);
                if !unknown.is_empty() {
                    notes.push(format!(
                        "names not defined in {}: {}",
                        entry.label,
                        unknown.join(", ")
                    ));
                }
                m
            }
        };

        // The rendering, by the renderer the line used.
        let (rendered, renderer) = rendering(profile, class, hit, mask);
        rendering_notes(&entry, hit, &agreement, &rendered, renderer, &mut notes);
        if hit.truncated {
            notes.push("the line is cut inside the names; decoded from the hex".to_string());
        }

        // Bits the layout does not define.
        undefined_bits_notes(&entry, mask, &mut notes);

        hit.family.notes(mask, order, &mut notes);
        if let Some(o) = order {
            order_notes(o, &mut notes);
        }

        let tr = profile.to_native(mask);
        let native = tr.gfp;
        let modern = self.modern_names(&tr);
        let explanation = crate::explain::brief(native, order.and_then(|o| u32::try_from(o).ok()));
        Analysis {
            mask,
            label: entry.label.clone(),
            rendered: Arc::from(rendered.as_str()),
            renderer,
            source,
            agreement,
            modern: Arc::from(modern.as_str()),
            explanation: Arc::from(explanation.as_str()),
            notes: Arc::from(notes),
            native,
            switch_to,
        }
    }

    /// The profile to decode `hit` with, where its release came from, and
    /// the profile the banner's release is to switch to from here on (when
    /// the printed names imply another configuration of it).
    fn decoding_entry(
        &mut self,
        basis: &Basis,
        hit: &Hit<'_>,
        class: RenderClass,
        agreement: &Agreement,
        notes: &mut Vec<String>,
    ) -> (Arc<Entry>, VersionSource, Option<Arc<Entry>>) {
        match basis {
            Basis::Forced(e) => {
                if let Some(b) = &self.banner {
                    let fv = e.profile.version.map(KernelVersion::release);
                    if fv != Some(b.version.release()) {
                        notes.push(format!(
                            "the log's banner names Linux {}, but the profile was forced",
                            b.version
                        ));
                    }
                }
                (e.clone(), VersionSource::Forced, None)
            }
            Basis::Banner(e) => {
                let (chosen, switch_to) = self.banner_entry(e, hit, class, agreement, notes);
                (chosen, VersionSource::Banner, switch_to)
            }
            Basis::Unknown => {
                let (e, source) = self.unknown_version_entry(hit, class, agreement, notes);
                (e, source, None)
            }
        }
    }

    /// The banner's profile `e`, or, when the line's names do not match it
    /// but match another configuration of its release, that configuration
    /// (returned twice: to decode with, and to switch to).
    fn banner_entry(
        &mut self,
        e: &Arc<Entry>,
        hit: &Hit<'_>,
        class: RenderClass,
        agreement: &Agreement,
        notes: &mut Vec<String>,
    ) -> (Arc<Entry>, Option<Arc<Entry>>) {
        let mut chosen = e.clone();
        let mut switch_to = None;
        if let (Some(p), Some(v)) = (hit.printed, e.profile.version) {
            let rel = v.release();
            let ok = printed_matches(&e.profile, class, hit.hex, p);
            if !ok {
                if let Some(&(_, bits)) = agreement.configs.iter().find(|(av, _)| *av == rel) {
                    let cat = self.catalog();
                    let c = closest_config(&cat, bits, e.profile.config);
                    let alt = self.entry(v, c);
                    notes.push(format!(
                        "the printed names imply this configuration of Linux {rel}: {c}; used from here on"
                    ));
                    switch_to = Some(alt.clone());
                    chosen = alt;
                }
            }
        }
        (chosen, switch_to)
    }

    /// The profile to decode with when no banner names the release: the
    /// newest release whose names match, else the most plausible layout of
    /// the period the line's format dates, else the newest release.
    fn unknown_version_entry(
        &mut self,
        hit: &Hit<'_>,
        class: RenderClass,
        agreement: &Agreement,
        notes: &mut Vec<String>,
    ) -> (Arc<Entry>, VersionSource) {
        let newest = history::NEWEST_KNOWN;
        if let Some(&(v, bits)) = agreement.configs.last() {
            let cat = self.catalog();
            let c = closest_config(&cat, bits, history::distro_config(v));
            let e = self.entry(v, c);
            notes.push(
                "version unknown (no banner in the log): decoded as the newest release whose names match"
                    .to_string(),
            );
            (e, VersionSource::Names)
        } else if let (Some(mask), Some((lo, hi))) = (hit.hex, hit.hint.range()) {
            let v = self.plausible_version(class, mask, lo, hi);
            let e = self.entry(v, history::distro_config(v));
            notes.push(format!(
                "version unknown (no banner in the log): {}; decoded as {}, the most plausible layout of that period",
                hit.hint.describe(),
                e.label
            ));
            if let Some(eras) = self.eras(class, mask, lo, hi) {
                notes.push(format!("the mask's meaning differs by release: {eras}"));
            }
            (e, VersionSource::Format)
        } else {
            let e = self.entry(newest, history::distro_config(newest));
            notes.push(
                "version unknown (no banner in the log, no --kernel): decoded as the newest release"
                    .to_string(),
            );
            if let Some(mask) = hit.hex {
                let lo = self
                    .catalog()
                    .versions
                    .first()
                    .copied()
                    .unwrap_or(KernelVersion::new(3, 0));
                if let Some(eras) = self.eras(class, mask, lo, newest) {
                    notes.push(format!("the mask's meaning differs by release: {eras}"));
                }
            }
            (e, VersionSource::Unknown)
        }
    }

    /// The names of `tr`'s flags in the newest release's layout, with those
    /// gone from it listed after them.
    fn modern_names(&mut self, tr: &crate::profile::Translation) -> String {
        let newest = history::NEWEST_KNOWN;
        let today = self.entry(newest, history::distro_config(newest));
        let (bits, dropped) = today.profile.from_native(tr.gfp);
        let mut modern = render::pgg(&today.profile, bits);
        for f in dropped.flags() {
            if !modern.is_empty() {
                modern.push('|');
            }
            modern.push_str(f.kernel_name());
        }
        let gone: Vec<&str> = tr
            .unmapped
            .iter()
            .filter_map(|u| u.name.as_deref())
            .collect();
        if !gone.is_empty() {
            let _ = write!(modern, " (gone today: {})", gone.join(", "));
        }
        modern
    }
}

/// `mask` as `profile` renders it by the renderer of `hit`'s class: for a
/// tracepoint, the kernel's or libtraceevent's, whichever the line printed
/// (libtraceevent's for perf when neither).
fn rendering(
    profile: &Profile,
    class: RenderClass,
    hit: &Hit<'_>,
    mask: u32,
) -> (String, Renderer) {
    match class {
        RenderClass::Printk => (render::pgg(profile, mask), Renderer::Pgg),
        RenderClass::Synthetic => (render::pgg(profile, mask), Renderer::Synthetic),
        RenderClass::Trace => {
            let k = render::trace(profile, mask);
            let u = render::libtraceevent(profile, mask);
            match hit.printed {
                Some(p) if p == k => (k, Renderer::Trace),
                Some(p) if p == u => (u, Renderer::Libtraceevent),
                _ if hit.perf => (u, Renderer::Libtraceevent),
                _ => (k, Renderer::Trace),
            }
        }
    }
}

/// Notes on the rendering: a release without `%pGg`, user space's hex, and
/// printed names that differ from `entry`'s.
fn rendering_notes(
    entry: &Entry,
    hit: &Hit<'_>,
    agreement: &Agreement,
    rendered: &str,
    renderer: Renderer,
    notes: &mut Vec<String>,
) {
    let profile = &entry.profile;
    if renderer == Renderer::Pgg && profile.pgg_names.is_none() {
        notes.push(format!(
            "{} had no %pGg and printed this mask in hex only; the names are its tracepoint table's",
            entry.label
        ));
    }
    if renderer == Renderer::Libtraceevent && profile.trace_userspace_hex {
        notes.push(
            "perf/trace-cmd printed hex: the format files of Linux 6.10 to 6.12.10 and 6.13 named enum constants user space could not resolve".to_string(),
        );
    }
    if let Some(p) = hit.printed {
        if p != rendered {
            if agreement.versions.is_empty() {
                notes.push(format!(
                    "no supported release prints `{p}` for this mask: a vendor kernel, a custom table, or an edited line"
                ));
            } else {
                notes.push(format!(
                    "{} prints `{rendered}`, not the line's names; they match Linux {}",
                    entry.label, agreement.ranges
                ));
            }
        }
    }
}

/// Notes on the bits of `mask` that `entry`'s layout does not define: holes
/// inside `__GFP_BITS_MASK`, and bits above it.
fn undefined_bits_notes(entry: &Entry, mask: u32, notes: &mut Vec<String>) {
    let profile = &entry.profile;
    let above = mask & !profile.bits_mask;
    let holes = mask & entry.holes;
    if holes != 0 {
        notes.push(format!(
            "{holes:#x}: no flag owns these bits in {} (a removed flag or a hole)",
            entry.label
        ));
    }
    if above != 0 {
        notes.push(format!(
            "{above:#x}: above __GFP_BITS_MASK ({:#x}) of {}: not valid for this version and configuration",
            profile.bits_mask, entry.label
        ));
    }
}

enum Basis {
    Forced(Arc<Entry>),
    Banner(Arc<Entry>),
    Unknown,
}

/// The agreeing configuration (a bit per catalogue index in `bits`) with
/// the fewest options that differ from `from`.
fn closest_config(cat: &Catalog, bits: u32, from: KernelConfig) -> KernelConfig {
    let want = config_bits(from);
    let mut best: Option<(u32, KernelConfig)> = None;
    for (i, &c) in cat.configs.iter().enumerate() {
        if bits & (1 << i) == 0 {
            continue;
        }
        let d = (config_bits(c) ^ want).count_ones();
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map_or(from, |(_, c)| c)
}

fn push_range(s: &mut String, a: KernelVersion, b: KernelVersion) {
    if a == b {
        let _ = write!(s, "{a}");
    } else {
        let _ = write!(s, "{a}–{b}");
    }
}

/// `5.1–6.7, 6.10–7.1`: runs of consecutive entries of `all`.
/// The layout-moving options, as bits of a `Catalog::configs` index.
const CONFIG_OPTIONS: [(u32, &str); 4] = [
    (1, "LOCKDEP"),
    (2, "KASAN_HW_TAGS"),
    (4, "SLAB_OBJ_EXT"),
    (8, "KMEMCHECK"),
];

/// Describes a set of agreeing configurations (a bit per index into the 16
/// combinations of [`KernelConfig::all_combinations`]): options that do not
/// matter are dropped; what remains is listed, or its complement when
/// that is shorter.
fn describe_configs(configs: &[KernelConfig], set: u32) -> String {
    let index = |c: usize| -> usize {
        // Map a combination (lockdep=1, kasan=2, slab=4, kmemcheck=8) to
        // its position in `configs`.
        let want = KernelConfig {
            lockdep: c & 1 != 0,
            kasan_hw_tags: c & 2 != 0,
            slab_obj_ext: c & 4 != 0,
            kmemcheck: c & 8 != 0,
        };
        configs.iter().position(|&x| x == want).unwrap_or(0)
    };
    let member = |c: usize| set & (1 << index(c)) != 0;
    let all = (0..16).all(member);
    if all {
        return "any configuration".into();
    }
    // Options whose value never changes membership.
    let relevant: Vec<(u32, &str)> = CONFIG_OPTIONS
        .iter()
        .copied()
        .filter(|&(bit, _)| (0..16usize).any(|c| member(c) != member(c ^ bit as usize)))
        .collect();
    let describe = |c: usize| -> String {
        let parts: Vec<String> = relevant
            .iter()
            .map(|&(bit, name)| format!("{name}={}", if c & bit as usize != 0 { 'y' } else { 'n' }))
            .collect();
        parts.join(", ")
    };
    // Distinct assignments of the relevant options, in and out of the set.
    let mask: usize = relevant.iter().map(|&(b, _)| b as usize).sum();
    let mut inside = Vec::new();
    let mut outside = Vec::new();
    for c in 0..16usize {
        if c & !mask != 0 {
            continue;
        }
        if member(c) {
            inside.push(describe(c));
        } else {
            outside.push(describe(c));
        }
    }
    if outside.len() < inside.len() {
        format!("any configuration but {}", outside.join(" or "))
    } else {
        inside.join(" or ")
    }
}

/// Groups the agreeing releases by the configurations that reproduce the
/// names: `any configuration` alone when that holds everywhere, else
/// `LOCKDEP=y on 6.15–7.1; any configuration on 5.1–5.13, 5.18–6.14`.
fn describe_config_runs(
    all: &[KernelVersion],
    configs: &[KernelConfig],
    per_version: &[(KernelVersion, u32)],
) -> String {
    let mut groups: Vec<(String, Vec<KernelVersion>)> = Vec::new();
    for &(v, bits) in per_version {
        let d = describe_configs(configs, bits);
        match groups.iter_mut().find(|(gd, _)| *gd == d) {
            Some((_, vs)) => vs.push(v),
            None => groups.push((d, alloc::vec![v])),
        }
    }
    if groups.len() == 1 {
        return groups.pop().map(|(d, _)| d).unwrap_or_default();
    }
    // Newest first: the most likely kernel of a log read today.
    groups.sort_by(|a, b| b.1.last().cmp(&a.1.last()));
    groups
        .iter()
        .map(|(d, vs)| format!("{d} on {}", compress_ranges(all, vs)))
        .collect::<Vec<_>>()
        .join("; ")
}

fn compress_ranges(all: &[KernelVersion], some: &[KernelVersion]) -> String {
    let mut s = String::new();
    let mut i = 0;
    let mut run: Option<(KernelVersion, KernelVersion, usize)> = None;
    for &v in some {
        while i < all.len() && all[i] < v {
            i += 1;
        }
        if i >= all.len() || all[i] != v {
            continue;
        }
        run = match run {
            Some((a, _, last)) if last + 1 == i => Some((a, v, i)),
            Some((a, b, _)) => {
                if !s.is_empty() {
                    s.push_str(", ");
                }
                push_range(&mut s, a, b);
                Some((v, v, i))
            }
            None => Some((v, v, i)),
        };
    }
    if let Some((a, b, _)) = run {
        if !s.is_empty() {
            s.push_str(", ");
        }
        push_range(&mut s, a, b);
    }
    s
}

fn order_notes(order: i32, notes: &mut Vec<String>) {
    if order <= 0 {
        return;
    }
    if order > 20 {
        notes.push(format!("order {order}: larger than any buddy allocation"));
        return;
    }
    let kib = 4u64 << order;
    let size = if kib >= 1024 {
        format!("{} MiB", kib / 1024)
    } else {
        format!("{kib} KiB")
    };
    let mut n = format!(
        "order {order}: 2^{order} = {} contiguous pages ({size} with 4 KiB pages)",
        1u64 << order
    );
    if order > crate::zone::MAX_PAGE_ORDER as i32 {
        // __alloc_pages(): WARN_ON_ONCE_GFP(order > MAX_PAGE_ORDER, gfp).
        n.push_str(&format!(
            "; above MAX_PAGE_ORDER ({} on x86_64): the page allocator refuses it at once, with a one-time WARNING unless __GFP_NOWARN",
            crate::zone::MAX_PAGE_ORDER
        ));
    } else if order > 3 {
        n.push_str(
            "; costly (above PAGE_ALLOC_COSTLY_ORDER = 3): retried less, failures usually mean fragmentation",
        );
    }
    notes.push(n);
}

// ---------------------------------------------------------------------------
// Decoding names and checking renderers
// ---------------------------------------------------------------------------

/// How the line's names were produced, for agreement checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum RenderClass {
    Printk = 0,
    Trace = 1,
    Synthetic = 2,
}

fn is_hex_token(t: &str) -> bool {
    t.len() > 2
        && t.starts_with("0x")
        && t.len() <= 18
        && t[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

fn hex_token(t: &str) -> Option<u32> {
    if !is_hex_token(t) {
        return None;
    }
    let v = u64::from_str_radix(&t[2..], 16).ok()?;
    u32::try_from(v).ok()
}

fn lookup_exact(profile: &Profile, class: RenderClass, name: &str) -> Option<u32> {
    let table = match class {
        RenderClass::Trace => Some(profile.trace_names.as_slice()),
        _ => profile.pgg_names.as_deref(),
    };
    table
        .into_iter()
        .flatten()
        .chain(profile.composites.iter())
        .chain(profile.flags.iter())
        .find(|e| e.name == name)
        .map(|e| e.mask)
}

/// Names to a mask using only the names `profile` defines; `None` if one is
/// unknown.
fn decode_strict(profile: &Profile, text: &str, class: RenderClass) -> Option<u32> {
    if text.is_empty() {
        return Some(0);
    }
    if class == RenderClass::Trace && text == profile.trace_zero {
        return Some(0);
    }
    let mut mask = 0u32;
    for tok in text.split('|') {
        if let Some(v) = hex_token(tok) {
            mask |= v;
        } else {
            mask |= lookup_exact(profile, class, tok)?;
        }
    }
    Some(mask)
}

/// Names to a mask, accepting friendly spellings; names still unknown are
/// returned.
fn decode_lenient<'a>(profile: &Profile, text: &'a str, class: RenderClass) -> (u32, Vec<&'a str>) {
    if let Some(m) = decode_strict(profile, text, class) {
        return (m, Vec::new());
    }
    let mut mask = 0u32;
    let mut unknown = Vec::new();
    for tok in text.split('|').filter(|t| !t.is_empty()) {
        if tok == "none" || tok == profile.trace_zero {
            continue;
        }
        if let Some(v) = hex_token(tok) {
            mask |= v;
        } else if let Some(v) = lookup_exact(profile, class, tok) {
            mask |= v;
        } else if let Ok(v) = crate::parse::parse_mask(profile, tok) {
            mask |= v;
        } else {
            unknown.push(tok);
        }
    }
    (mask, unknown)
}

/// Whether `profile`'s renderer prints `printed` for the mask (the hex one,
/// or the names decoded in that profile).
fn table_agrees(profile: &Profile, class: RenderClass, hex: Option<u32>, printed: &str) -> bool {
    if class != RenderClass::Trace && profile.pgg_names.is_none() {
        // Before 4.6 printk messages printed hex only.
        return false;
    }
    printed_matches(profile, class, hex, printed)
}

fn printed_matches(profile: &Profile, class: RenderClass, hex: Option<u32>, printed: &str) -> bool {
    let mask = match hex {
        Some(m) => m,
        None => match decode_strict(profile, printed, class) {
            Some(m) => m,
            None => return false,
        },
    };
    match class {
        RenderClass::Printk | RenderClass::Synthetic => {
            profile.pgg_names.is_some() && render::pgg(profile, mask) == printed
        }
        RenderClass::Trace => {
            render::trace(profile, mask) == printed
                || render::libtraceevent(profile, mask) == printed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `TRIGGERS` is exactly what the byte filter looks for: a line passes
    /// the filter if and only if it contains one of them.
    #[test]
    fn triggers_match_the_byte_filter() {
        let pieces: &[&[u8]] = &[
            b"gf",
            b"p",
            b"G",
            b"FP",
            b"mode",
            b":0x",
            b"ma",
            b"sk",
            b" ",
            b"=",
            b"fl",
            b"ags",
            b"offline",
            b" node",
            b"Tai",
            b"nted: ",
            b"Not",
            b" tainted ",
            b"Linux",
            b" version ",
            b"x",
            b"\xff",
            b"\n",
            b"0x12",
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            let mut line = Vec::new();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut r = seed;
            for _ in 0..(r % 9) {
                r = r.rotate_left(7) ^ 0x2545_f491_4f6c_dd1d;
                line.extend_from_slice(pieces[(r % pieces.len() as u64) as usize]);
            }
            let contains = TRIGGERS
                .iter()
                .any(|t| line.windows(t.len()).any(|w| w == t.as_bytes()));
            assert_eq!(
                prefilter(&line).keys != 0,
                contains,
                "{:?}",
                String::from_utf8_lossy(&line)
            );
        }
    }

    /// The catalogue builds only the combinations of the options that
    /// matter to each release; it must equal building every combination.
    #[test]
    fn catalog_equals_the_full_build() {
        let cat = Catalog::build();
        for (vi, &v) in cat.versions.iter().enumerate() {
            for (ci, &c) in cat.configs.iter().enumerate() {
                let t = &cat.tables[cat.map[vi][ci] as usize];
                assert!(same_tables(t, &history::build(v, c)), "{v} {c}");
            }
        }
    }

    #[test]
    fn ranges_and_prefilter() {
        let all: Vec<KernelVersion> = ["5.0", "5.1", "5.2", "6.0", "6.1", "7.0"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let some = [all[1], all[2], all[3], all[5]];
        assert_eq!(compress_ranges(&all, &some), "5.1–6.0, 7.0");
        assert_eq!(compress_ranges(&all, &[]), "");
        let p = prefilter(b"x: page allocation failure: order:0, mode:0xcc0(GFP_KERNEL)");
        assert_eq!(p.keys & (K_MODE | K_GFP), K_MODE | K_GFP);
        assert_eq!(p.first[1], 37);
        assert_eq!(prefilter(b"nothing to see here").keys, 0);
        assert_eq!(count_newlines(&[b'\n'; 200]), 200);
        let mut text = [b'a'; 100];
        text[70] = b'\n';
        assert_eq!(first_newline(&text), Some(70));
        assert_eq!(last_newline(&text), Some(70));
        assert_eq!(first_newline(b"abc"), None);
    }
}
