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
        let mut switch_to = None;
        let newest = history::NEWEST_KNOWN;
        let (entry, source) = match basis {
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
                (e.clone(), VersionSource::Forced)
            }
            Basis::Banner(e) => {
                let mut chosen = e.clone();
                if let (Some(p), Some(v)) = (hit.printed, e.profile.version) {
                    let rel = v.release();
                    let ok = printed_matches(&e.profile, class, hit.hex, p);
                    if !ok {
                        if let Some(&(_, bits)) =
                            agreement.configs.iter().find(|(av, _)| *av == rel)
                        {
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
                (chosen, VersionSource::Banner)
            }
            Basis::Unknown => {
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
        };
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
        let (rendered, renderer) = match class {
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
        };
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
        if hit.truncated {
            notes.push("the line is cut inside the names; decoded from the hex".to_string());
        }

        // Bits the layout does not define.
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

        hit.family.notes(mask, order, &mut notes);
        if let Some(o) = order {
            order_notes(o, &mut notes);
        }

        let tr = profile.to_native(mask);
        let native = tr.gfp;
        let today = self.entry(newest, history::distro_config(newest));
        let (bits, dropped) = today.profile.from_native(native);
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

// ---------------------------------------------------------------------------
// The byte-level prefilter
// ---------------------------------------------------------------------------

/// The byte strings that make a line worth scanning: every line with a
/// finding, and every version banner, contains one of them, and the
/// scanner's own byte filter tests exactly these. A caller that searches a
/// large input with a faster multi-pattern engine may skip all other lines.
pub const TRIGGERS: &[&str] = &[
    "gfp",
    "GFP",
    "mode:0x",
    "mask ",
    "mask=",
    "flags=",
    "offline node",
    "Tainted: ",
    "Not tainted ",
    "Linux version ",
];

const K_GFP: u32 = 1; // "gfp" or "GFP"
const K_MODE: u32 = 2; // "mode:"
const K_MASK: u32 = 4; // "mask " or "mask="
const K_FLAGS: u32 = 8; // "flags="
const K_OFFLINE: u32 = 16; // "offline node"
const K_BANNER: u32 = 32; // "Linux version ", "Tainted: ", "Not tainted "
const K_GFP_LC: u32 = 64; // "gfp" in lower case

/// What [`prefilter`] found: the trigger tokens, and where the first
/// `gfp`, `mode:`, `mask` and `flags=` tokens start (so that the parsers
/// skip the rest of the line).
struct Pre {
    keys: u32,
    first: [usize; 4],
}

impl Pre {
    /// No trigger token.
    const NONE: Pre = Pre {
        keys: 0,
        first: [0; 4],
    };
}

/// The index in [`Pre::first`] of a key's first position, and the offset
/// from the anchor pair to the token's start.
fn first_slot(key: u32) -> Option<(usize, usize)> {
    match key {
        K_GFP_LC => Some((0, 0)),
        K_MODE => Some((1, 4)),
        K_MASK => Some((2, 2)),
        K_FLAGS => Some((3, 0)),
        _ => None,
    }
}

#[inline]
fn at(b: &[u8], i: usize, pat: &[u8]) -> bool {
    b.get(i..i.saturating_add(pat.len())) == Some(pat)
}

#[inline]
fn before(b: &[u8], i: usize, pat: &[u8]) -> bool {
    i >= pat.len() && i <= b.len() && &b[i - pat.len()..i] == pat
}

/// For each of the 16 positions of a chunk (plus two bytes of look-ahead),
/// 1 in its byte lane when a trigger token may start there: `gf` (any
/// case), `:0x`, `sk`, `fl`, `Ta`, `No`, `Li`. Written without branches so
/// that the compiler turns it into vector compares.
#[inline(always)]
fn chunk_lanes(c: &[u8; 18]) -> u128 {
    let mut lanes = [0u8; 16];
    for j in 0..16 {
        let (a, n, m) = (c[j], c[j + 1], c[j + 2]);
        let hit = ((a | 0x20) == b'g') & ((n | 0x20) == b'f')
            | (a == b':') & (n == b'0') & (m == b'x')
            | (a == b's') & (n == b'k')
            | (a == b'f') & (n == b'l')
            | (a == b'T') & (n == b'a')
            | (a == b'N') & (n == b'o')
            | (a == b'L') & (n == b'i');
        lanes[j] = u8::from(hit);
    }
    u128::from_le_bytes(lanes)
}

/// One pass over the line: which trigger tokens it contains.
#[inline]
fn prefilter(b: &[u8]) -> Pre {
    prefilter_from(b, 0)
}

/// The trigger lanes of the 16 bytes at `i` (zero-padded past the end).
#[inline(always)]
fn lanes_at(b: &[u8], i: usize) -> u128 {
    match b.get(i..i + 18).and_then(|c| <&[u8; 18]>::try_from(c).ok()) {
        Some(c) => chunk_lanes(c),
        None => {
            let mut buf = [0u8; 18];
            let tail = b.get(i..).unwrap_or(&[]);
            let r = tail.len().min(18);
            buf[..r].copy_from_slice(&tail[..r]);
            chunk_lanes(&buf)
        }
    }
}

/// [`prefilter`] for a line known to have no trigger token before `from`.
#[inline]
fn prefilter_from(b: &[u8], from: usize) -> Pre {
    let mut keys = 0u32;
    let mut first = [usize::MAX; 4];
    let n = b.len();
    let mut i = from;
    while i < n {
        let mut lanes = lanes_at(b, i);
        while lanes != 0 {
            let t = lanes.trailing_zeros();
            lanes &= !(0xffu128 << (t & !7));
            let j = i + (t / 8) as usize;
            let k = pair_hit(b, j);
            let mut new = k & !keys;
            while new != 0 {
                let bit = new & new.wrapping_neg();
                new &= !bit;
                if let Some((slot, back)) = first_slot(bit) {
                    first[slot] = j.saturating_sub(back);
                }
            }
            keys |= k;
        }
        i += 16;
    }
    Pre { keys, first }
}

/// The position of the first verified trigger token in `b` at or after
/// `from` (the same test as [`prefilter`], over a whole buffer).
fn next_trigger(b: &[u8], from: usize) -> Option<usize> {
    let n = b.len();
    let mut i = from;
    while i < n {
        let mut lanes = lanes_at(b, i);
        while lanes != 0 {
            let t = lanes.trailing_zeros();
            lanes &= !(0xffu128 << (t & !7));
            let j = i + (t / 8) as usize;
            if pair_hit(b, j) != 0 {
                return Some(j);
            }
        }
        i += 16;
    }
    None
}

/// The position of the first `\n` in `b`, testing 16 bytes at a time.
fn first_newline(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    for block in b.chunks_exact(16) {
        if block.iter().fold(false, |a, &c| a | (c == b'\n')) {
            break;
        }
        i += 16;
    }
    b[i..].iter().position(|&c| c == b'\n').map(|k| i + k)
}

/// The position of the last `\n` in `b`, testing 16 bytes at a time.
fn last_newline(b: &[u8]) -> Option<usize> {
    let mut end = b.len();
    for block in b.rchunks_exact(16) {
        if block.iter().fold(false, |a, &c| a | (c == b'\n')) {
            break;
        }
        end -= 16;
    }
    b[..end].iter().rposition(|&c| c == b'\n')
}

/// The number of `\n` in `b` (a loop the compiler vectorizes).
fn count_newlines(b: &[u8]) -> usize {
    let mut blocks = b.chunks_exact(64);
    let mut n = 0;
    for block in &mut blocks {
        // At most 64 per block: the sum fits a byte, which vectorizes well.
        n += usize::from(block.iter().fold(0u8, |a, &c| a + u8::from(c == b'\n')));
    }
    n + blocks.remainder().iter().filter(|&&c| c == b'\n').count()
}

/// The first occurrence of the ASCII `needle` in `s` at or after `from`
/// (a character boundary). Skips to the needle's first byte with the
/// standard library's `memchr`, which beats a general substring search on
/// short lines.
#[inline]
fn find_from(s: &str, from: usize, needle: &[u8]) -> Option<usize> {
    let (&head, rest) = needle.split_first()?;
    let b = s.as_bytes();
    let mut i = from;
    loop {
        let k = s.get(i..)?.find(char::from(head))?;
        i += k;
        if b.get(i + 1..i + needle.len())? == rest {
            return Some(i);
        }
        i += 1;
    }
}

/// Every occurrence of the ASCII `needle` in `s` from `from` on
/// (overlapping ones included), in order.
fn occurrences<'b>(s: &'b str, from: usize, needle: &'b [u8]) -> impl Iterator<Item = usize> + 'b {
    let mut next = from;
    core::iter::from_fn(move || {
        let p = find_from(s, next, needle)?;
        next = p + 1;
        Some(p)
    })
}

/// The trigger token starting at `j`, checked in full.
#[inline]
fn pair_hit(b: &[u8], j: usize) -> u32 {
    let a = b.get(j).copied().unwrap_or(0);
    let n = b.get(j + 1).copied().unwrap_or(0);
    let m = b.get(j + 2).copied().unwrap_or(0);
    match (a, n) {
        (b'g', b'f') if m == b'p' => K_GFP | K_GFP_LC,
        (b'G', b'F') if m == b'P' => K_GFP,
        (b':', b'0') if m == b'x' && before(b, j, b"mode") => K_MODE,
        (b's', b'k') if (m == b' ' || m == b'=') && before(b, j, b"ma") => K_MASK,
        (b'f', b'l') => {
            let mut k = 0;
            if at(b, j, b"flags=") {
                k |= K_FLAGS;
            }
            if j >= 2 && at(b, j - 2, b"offline node") {
                k |= K_OFFLINE;
            }
            k
        }
        (b'T', b'a') if at(b, j, b"Tainted: ") => K_BANNER,
        (b'N', b'o') if at(b, j, b"Not tainted ") => K_BANNER,
        (b'L', b'i') if at(b, j, b"Linux version ") => K_BANNER,
        _ => 0,
    }
}

// ---------------------------------------------------------------------------
// Bare masks
// ---------------------------------------------------------------------------

/// Longest line text (trimmed) that may be a bare mask: `0x` and 8 hex
/// digits, or 10 decimal digits, with room for a leading `0`.
const MAX_BARE_LEN: usize = 12;

/// Whether a line without trigger tokens may be a bare mask (a cheap test
/// for readers that skip such lines: only these need scanning).
pub fn maybe_bare(line: &[u8]) -> bool {
    let t = line.trim_ascii();
    !t.is_empty() && t.len() <= MAX_BARE_LEN && t[0].is_ascii_digit()
}

/// A line that holds nothing but a mask as `gfp decode MASK` takes a
/// number (`0xcc0`, `0XCC0`, `3264`), with blanks around it.
fn bare_mask(line: &str) -> Option<Hit<'_>> {
    if !maybe_bare(line.as_bytes()) {
        return None;
    }
    let start = line.len() - line.trim_start().len();
    let t = line.trim();
    let v = crate::parse::parse_number(t).ok()?;
    Some(Hit {
        start,
        end: start + t.len(),
        family: Family::Bare,
        hex: Some(v),
        printed: None,
        perf: false,
        truncated: false,
        hint: Hint::None,
    })
}

/// A line that holds nothing but gfp names joined by `|`
/// (`GFP_KERNEL|__GFP_NOWARN`), with blanks around it.
fn bare_names(line: &str) -> Option<Hit<'_>> {
    let start = line.len() - line.trim_start().len();
    let t = line.trim();
    let named = |p: &str| p.starts_with("GFP_") || p.starts_with("__GFP_");
    if !looks_like_gfp_names(t) || !t.split('|').all(|p| named(p) || is_hex_token(p)) {
        return None;
    }
    Some(Hit {
        start,
        end: start + t.len(),
        family: Family::Bare,
        hex: None,
        printed: Some(t),
        perf: false,
        truncated: false,
        hint: Hint::None,
    })
}

// ---------------------------------------------------------------------------
// Banners
// ---------------------------------------------------------------------------

fn version_token(s: &str) -> Option<KernelVersion> {
    let tok = s.split(|c: char| c.is_ascii_whitespace()).next()?;
    if !tok.as_bytes().first()?.is_ascii_digit() {
        return None;
    }
    let v: KernelVersion = tok.parse().ok()?;
    if !(2..=9).contains(&v.major) || v.minor > 99 {
        return None;
    }
    Some(v)
}

/// The kernel release a banner line names, if it is one.
fn parse_banner(line: &str) -> Option<KernelVersion> {
    if let Some(p) = line.find("Linux version ") {
        if let Some(v) = version_token(&line[p + 14..]) {
            return Some(v);
        }
    }
    if let Some(p) = line.find("Not tainted ") {
        if let Some(v) = version_token(line[p + 12..].trim_start()) {
            return Some(v);
        }
    }
    if let Some(p) = line.find("Tainted: ") {
        // Taint letters (`G        W  O     `), then the release.
        let mut rest = &line[p + 9..];
        loop {
            rest = rest.trim_start();
            let end = rest.find(' ').unwrap_or(rest.len());
            let tok = &rest[..end];
            if tok.is_empty() {
                return None;
            }
            if tok.bytes().all(|b| b.is_ascii_uppercase()) {
                rest = &rest[end..];
                continue;
            }
            return version_token(tok);
        }
    }
    None
}

// ---------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------

/// Which message a mask token belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Family {
    AllocWarn,
    Oom,
    Slab,
    PageOwner,
    DumpPage,
    UnexpectedGfp,
    FixedGfp,
    DmaPool,
    Offline,
    TestLockup,
    Trace,
    Synthetic,
    Xfs,
    Spl,
    Field,
    /// A line that holds nothing but a mask: a number (`0xcc0`, `3264`)
    /// or names (`GFP_KERNEL|__GFP_NOWARN`).
    Bare,
}

impl Family {
    fn has_order(self) -> bool {
        !matches!(
            self,
            Family::UnexpectedGfp
                | Family::FixedGfp
                | Family::DmaPool
                | Family::Offline
                | Family::Spl
                | Family::Bare
        )
    }

    fn notes(self, mask: u32, order: Option<i32>, notes: &mut Vec<String>) {
        match self {
            Family::AllocWarn | Family::Oom => {
                notes.push(
                    "the mask is printed after current_gfp_context() and gfp_allowed_mask: memalloc_nofs/noio_save() scopes clear __GFP_FS/__GFP_IO, early boot and suspend strip the reclaim, IO and FS bits".to_string(),
                );
                if self == Family::Oom {
                    if order == Some(-1) {
                        notes.push(
                            "order=-1: the OOM killer was invoked by hand (sysrq-f), not by a failing allocation".to_string(),
                        );
                    } else if mask == 0 {
                        notes.push(
                            "gfp_mask=0x0: pagefault_out_of_memory() (a page fault ended in VM_FAULT_OOM), not a real allocation".to_string(),
                        );
                    } else {
                        notes.push("for a memory cgroup OOM this is the gfp of the charge".to_string());
                    }
                }
            }
            Family::UnexpectedGfp => notes.push(
                "only the illegal bits (GFP_SLAB_BUG_MASK: __GFP_DMA32, __GFP_HIGHMEM and bits above __GFP_BITS_MASK); the allocation goes on with the fixed-up mask".to_string(),
            ),
            Family::FixedGfp => notes.push(
                "the caller's mask with the illegal bits removed; the caller needs fixing".to_string(),
            ),
            Family::DmaPool | Family::Offline | Family::TestLockup => {
                notes.push("the line prints names only; the mask is rebuilt from them".to_string())
            }
            Family::Synthetic => notes.push(
                "a gfp_t field of a synthetic event: `%u` decimal value with the %pGg names".to_string(),
            ),
            Family::Spl => notes.push(
                "OpenZFS/SPL: lflags is the gfp_t built by kmem_flags_convert() for this kernel".to_string(),
            ),
            _ => {}
        }
    }
}

/// The period a hex-only message format dates from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Hint {
    None = 0,
    /// `page allocation failure. order:`, `oomkilladj`: up to 2.6.38.
    Ancient = 1,
    /// Hex without `(%pGg)` in warn_alloc, OOM, SLUB, page_owner: up to 4.5.
    Pre46 = 2,
    /// XFS's hex-only deadlock message: up to about 6.7.
    Xfs = 3,
}

impl Hint {
    fn range(self) -> Option<(KernelVersion, KernelVersion)> {
        let lo = KernelVersion::new(3, 0);
        match self {
            Hint::None => None,
            Hint::Ancient => Some((lo, lo)),
            Hint::Pre46 => Some((lo, KernelVersion::new(4, 5))),
            Hint::Xfs => Some((lo, KernelVersion::new(6, 7))),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Hint::None => "",
            Hint::Ancient => "this message format is from 2.6 kernels",
            Hint::Pre46 => "a mask without names is from before 4.6 (no %pGg)",
            Hint::Xfs => "XFS printed this message, hex only, up to about 6.7",
        }
    }
}

struct Hit<'a> {
    start: usize,
    end: usize,
    family: Family,
    hex: Option<u32>,
    printed: Option<&'a str>,
    /// `perf script` form (`sys:event`).
    perf: bool,
    truncated: bool,
    hint: Hint,
}

impl Hit<'_> {
    fn class(&self) -> RenderClass {
        match self.family {
            Family::Trace => RenderClass::Trace,
            Family::Synthetic => RenderClass::Synthetic,
            _ => RenderClass::Printk,
        }
    }

    fn render_bits(&self) -> u8 {
        self.class() as u8 | u8::from(self.perf) << 2 | u8::from(self.truncated) << 3
    }
}

fn is_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'|'
}

/// `0x` and up to 16 hex digits at `i`: the value (if it fits 32 bits) and
/// the end.
fn hex_at(b: &[u8], i: usize) -> Option<(u32, usize)> {
    if !at(b, i, b"0x") {
        return None;
    }
    let s = i + 2;
    let mut e = s;
    while e < b.len() && b[e].is_ascii_hexdigit() && e - s <= 16 {
        e += 1;
    }
    if e == s || e - s > 16 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in &b[s..e] {
        let d = (c as char).to_digit(16)? as u64;
        v = v.checked_mul(16)?.checked_add(d)?;
    }
    Some((u32::try_from(v).ok()?, e))
}

fn dec_at(b: &[u8], i: usize) -> Option<(u32, usize)> {
    let mut e = i;
    while e < b.len() && b[e].is_ascii_digit() && e - i < 11 {
        e += 1;
    }
    if e == i || b.get(e).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in &b[i..e] {
        v = v * 10 + u64::from(c - b'0');
    }
    Some((u32::try_from(v).ok()?, e))
}

/// A run of name characters at `i` (may be empty).
fn names_end(b: &[u8], i: usize) -> usize {
    let mut e = i;
    while e < b.len() && is_name_byte(b[e]) && e - i <= MAX_NAMES_LEN {
        e += 1;
    }
    e
}

/// Whether `t` looks like the output of a gfp renderer: `|`-separated names
/// and hex numbers.
fn valid_names(t: &str) -> bool {
    if t.len() > MAX_NAMES_LEN {
        return false;
    }
    if t.is_empty() {
        return true;
    }
    t.split('|').all(|p| {
        !p.is_empty()
            && (is_hex_token(p)
                || (p.as_bytes()[0].is_ascii_alphabetic() || p.as_bytes()[0] == b'_')
                    && p.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_'))
    })
}

fn looks_like_gfp_names(t: &str) -> bool {
    valid_names(t) && (t.contains("GFP") || t == "none")
}

enum Paren<'a> {
    None,
    Names(&'a str, usize),
    Truncated,
}

/// `(names)` at `i`.
fn paren_at<'a>(line: &'a str, i: usize) -> Paren<'a> {
    let b = line.as_bytes();
    if b.get(i) != Some(&b'(') {
        return Paren::None;
    }
    let s = i + 1;
    let e = names_end(b, s);
    match b.get(e) {
        Some(b')') => {
            let t = &line[s..e];
            if valid_names(t) {
                Paren::Names(t, e + 1)
            } else {
                Paren::None
            }
        }
        None => Paren::Truncated,
        Some(_) => Paren::None,
    }
}

/// `0x..(names)` (or `0x.. (names)` with `space`) at `i`.
fn hex_names_at(line: &str, i: usize, space: bool) -> Option<(u32, Option<&str>, usize, bool)> {
    let b = line.as_bytes();
    let (v, e) = hex_at(b, i)?;
    let p = if space && b.get(e) == Some(&b' ') {
        e + 1
    } else {
        e
    };
    Some(match paren_at(line, p) {
        Paren::Names(t, end) => (v, Some(t), end, false),
        Paren::Truncated => (v, None, e, true),
        Paren::None => (v, None, e, false),
    })
}

/// A trace value at `i`: names, `none` or hex, up to the next space.
fn trace_value_at(line: &str, i: usize) -> Option<(&str, usize)> {
    let b = line.as_bytes();
    let e = names_end(b, i);
    if e == i {
        return None;
    }
    if let Some(&c) = b.get(e) {
        if !(c == b' ' || c == b'\t' || c == b',' || c == b'\r' || c == b'\n') {
            return None;
        }
    }
    let t = &line[i..e];
    if !valid_names(t) {
        return None;
    }
    Some((t, e))
}

// ---------------------------------------------------------------------------
// Per-line context (computed once per line, only for lines with a token)
// ---------------------------------------------------------------------------

struct TraceInfo<'a> {
    event: Option<&'a str>,
    perf: bool,
    /// The text before ` [cpu]`: `comm-pid` or `comm pid`.
    task: &'a str,
}

/// Phrases tested once per line.
const PHRASES: [&str; 14] = [
    "invoked oom-killer",
    "oomkilladj",
    "SLUB:",
    "SLAB:",
    "ALLOCATE PAGES",
    "XFS",
    "memory allocation deadlock",
    "allocation failure",
    "alloc failure",
    "page allocation stalls",
    "vmalloc",
    "page allocation failure. order",
    "allocated via order",
    "deadlock",
];
const P_OOM: usize = 0;
const P_OOMKILLADJ: usize = 1;
const P_SLUB: usize = 2;
const P_SLAB: usize = 3;
const P_LOCKUP: usize = 4;
const P_XFS: usize = 5;
const P_DEADLOCK_MSG: usize = 6;
const P_ALLOC_FAILURE: usize = 7;
const P_ALLOC_FAILURE2: usize = 8;
const P_STALLS: usize = 9;
const P_VMALLOC: usize = 10;
const P_ANCIENT: usize = 11;
const P_OWNER: usize = 12;
const P_DEADLOCK: usize = 13;

struct LineCtx<'a> {
    line: &'a str,
    known: u32,
    value: u32,
    trace: Option<Option<TraceInfo<'a>>>,
    order: Option<Option<i32>>,
}

/// Tracepoints that carry a gfp mask, with their message names.
const EVENTS: &[(&str, &str)] = &[
    ("kmalloc", "tracepoint kmalloc"),
    ("kmalloc_node", "tracepoint kmalloc_node"),
    ("kmem_cache_alloc", "tracepoint kmem_cache_alloc"),
    ("kmem_cache_alloc_node", "tracepoint kmem_cache_alloc_node"),
    ("mm_page_alloc", "tracepoint mm_page_alloc"),
    (
        "mm_vmscan_wakeup_kswapd",
        "tracepoint mm_vmscan_wakeup_kswapd",
    ),
    (
        "mm_vmscan_node_reclaim_begin",
        "tracepoint mm_vmscan_node_reclaim_begin",
    ),
    (
        "mm_vmscan_direct_reclaim_begin",
        "tracepoint mm_vmscan_direct_reclaim_begin",
    ),
    (
        "mm_vmscan_memcg_reclaim_begin",
        "tracepoint mm_vmscan_memcg_reclaim_begin",
    ),
    (
        "mm_vmscan_memcg_softlimit_reclaim_begin",
        "tracepoint mm_vmscan_memcg_softlimit_reclaim_begin",
    ),
    ("mm_shrink_slab_start", "tracepoint mm_shrink_slab_start"),
    (
        "mm_compaction_try_to_compact_pages",
        "tracepoint mm_compaction_try_to_compact_pages",
    ),
    ("percpu_alloc_percpu", "tracepoint percpu_alloc_percpu"),
    ("dma_alloc", "tracepoint dma_alloc"),
    ("dma_alloc_pages", "tracepoint dma_alloc_pages"),
    ("dma_alloc_sgt", "tracepoint dma_alloc_sgt"),
    ("dma_alloc_sgt_err", "tracepoint dma_alloc_sgt_err"),
    ("alloc_extent_state", "tracepoint alloc_extent_state"),
];

/// Tracepoints of [`EVENTS`] without an `order` field.
const EVENTS_WITHOUT_ORDER: &[&str] = &[
    "kmalloc",
    "kmalloc_node",
    "kmem_cache_alloc",
    "kmem_cache_alloc_node",
    "mm_shrink_slab_start",
    "percpu_alloc_percpu",
    "dma_alloc",
    "dma_alloc_pages",
    "dma_alloc_sgt",
    "dma_alloc_sgt_err",
    "alloc_extent_state",
];

impl<'a> LineCtx<'a> {
    fn new(line: &'a str) -> Self {
        LineCtx {
            line,
            known: 0,
            value: 0,
            trace: None,
            order: None,
        }
    }

    /// Whether the line contains `PHRASES[i]` (searched once per line).
    fn has(&mut self, i: usize) -> bool {
        let bit = 1u32 << i;
        if self.known & bit == 0 {
            self.known |= bit;
            if self.line.contains(PHRASES[i]) {
                self.value |= bit;
            }
        }
        self.value & bit != 0
    }

    fn trace(&mut self) -> Option<&TraceInfo<'a>> {
        if self.trace.is_none() {
            self.trace = Some(find_trace(self.line));
        }
        self.trace.as_ref().and_then(Option::as_ref)
    }

    fn event(&mut self) -> Option<&'a str> {
        self.trace().and_then(|t| t.event)
    }

    fn is_perf(&mut self) -> bool {
        self.trace().is_some_and(|t| t.perf)
    }

    fn order(&mut self) -> Option<i32> {
        if self.order.is_none() {
            self.order = Some(find_order(self.line));
        }
        self.order.flatten()
    }

    fn message(&mut self, hit: &Hit<'_>) -> Cow<'static, str> {
        let line = self.line;
        Cow::Borrowed(match hit.family {
            Family::AllocWarn => {
                if line.contains("page allocation stalls") {
                    "page allocation stall"
                } else if line.contains("page allocation failure") {
                    "page allocation failure"
                } else if line.contains("vmalloc") {
                    "vmalloc allocation failure"
                } else if line.contains("vmemmap alloc failure") {
                    "vmemmap allocation failure"
                } else {
                    "allocation warning"
                }
            }
            Family::Oom => "oom-killer",
            Family::Slab => {
                if line.contains("SLAB:") {
                    "slab"
                } else {
                    "slub"
                }
            }
            Family::PageOwner => "page_owner",
            Family::DumpPage => "dump_page owner",
            Family::UnexpectedGfp => "unexpected gfp",
            Family::FixedGfp => "unexpected gfp fixed up",
            Family::DmaPool => "dma atomic pool",
            Family::Offline => "allocation from offline node",
            Family::TestLockup => "test_lockup",
            Family::Xfs => "xfs allocation deadlock",
            Family::Spl => "spl allocation deadlock",
            Family::Field => "gfp field",
            Family::Bare => "bare mask",
            Family::Trace | Family::Synthetic => {
                let synth = hit.family == Family::Synthetic;
                let prefix = if synth {
                    "synthetic event"
                } else {
                    "tracepoint"
                };
                return match self.event() {
                    Some(ev) if !synth => match EVENTS.iter().find(|(n, _)| *n == ev) {
                        Some((_, m)) => Cow::Borrowed(m),
                        None => Cow::Owned(format!("{prefix} {ev}")),
                    },
                    Some(ev) => Cow::Owned(format!("{prefix} {ev}")),
                    None => Cow::Borrowed(prefix),
                };
            }
        })
    }

    fn comm(&mut self, hit: &Hit<'_>) -> Option<&'a str> {
        let line = self.line;
        let c = match hit.family {
            Family::AllocWarn => [
                ": page allocation",
                ": vmalloc",
                ": vmemmap",
                ": warn_alloc",
            ]
            .iter()
            .filter_map(|m| line.find(m))
            .min()
            .and_then(|p| comm_before(line, p)),
            Family::Oom => line
                .find(" invoked oom-killer")
                .and_then(|p| comm_before(line, p)),
            Family::PageOwner | Family::DumpPage => comm_after_tgid(line),
            Family::Xfs => {
                let p = line.find("XFS: ")? + 5;
                let q = line.find(") possible memory allocation deadlock")?;
                let seg = line.get(p..q)?;
                seg.rfind('(').map(|k| &seg[..k])
            }
            Family::Trace | Family::Synthetic => {
                let task = self.trace()?.task.trim();
                task_comm(task)
            }
            _ => None,
        }?;
        let c = c.trim();
        if c.is_empty() {
            None
        } else {
            Some(c)
        }
    }
}

/// The message's comm: the text between the log prefix and `end`.
fn comm_before(line: &str, end: usize) -> Option<&str> {
    let head = line.get(..end)?;
    let mut start = 0;
    if let Some(p) = head.rfind("] ") {
        start = p + 2;
    }
    if let Some(p) = head.rfind(": ") {
        start = start.max(p + 2);
    }
    head.get(start..)
}

fn comm_after_tgid(line: &str) -> Option<&str> {
    let p = line.find("tgid ")? + 5;
    let b = line.as_bytes();
    let mut i = p;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if !at(b, i, b" (") {
        return None;
    }
    let s = i + 2;
    let rest = &line[s..];
    let e = rest.find("), ").or_else(|| rest.rfind(')'))?;
    Some(&rest[..e])
}

/// `comm-pid` (kernel, trace-cmd) or `comm pid` / `comm pid/tid` (perf).
fn task_comm(task: &str) -> Option<&str> {
    let b = task.as_bytes();
    let mut i = b.len();
    while i > 0 && (b[i - 1].is_ascii_digit() || b[i - 1] == b'/') {
        i -= 1;
    }
    if i == b.len() || i == 0 {
        return Some(task);
    }
    match b[i - 1] {
        b'-' | b' ' => Some(task[..i - 1].trim()),
        _ => Some(task),
    }
}

/// The first `order:N`, `order=N` or `order N` in the line.
fn find_order(line: &str) -> Option<i32> {
    let b = line.as_bytes();
    for p in occurrences(line, 0, b"order") {
        let mut i = p + 5;
        match b.get(i) {
            Some(b':' | b'=' | b' ') => i += 1,
            _ => continue,
        }
        let neg = b.get(i) == Some(&b'-');
        if neg {
            i += 1;
        }
        let s = i;
        while i < b.len() && b[i].is_ascii_digit() && i - s < 6 {
            i += 1;
        }
        if i == s {
            continue;
        }
        let mut v: i32 = 0;
        for &c in &b[s..i] {
            v = v * 10 + i32::from(c - b'0');
        }
        return Some(if neg { -v } else { v });
    }
    None
}

/// Finds `<timestamp>: <event>:` in a trace line.
fn find_trace(line: &str) -> Option<TraceInfo<'_>> {
    let b = line.as_bytes();
    let mut from = 0;
    for _ in 0..16 {
        let Some(k) = find_from(line, from, b": ") else {
            break;
        };
        from = k + 2;
        // Timestamp: digits '.' digits, right before the colon.
        let mut j = k;
        while j > 0 && b[j - 1].is_ascii_digit() {
            j -= 1;
        }
        if j == k || j == 0 || b[j - 1] != b'.' {
            continue;
        }
        let frac = j;
        j -= 1;
        while j > 0 && b[j - 1].is_ascii_digit() {
            j -= 1;
        }
        if j + 1 == frac {
            continue;
        }
        if j > 0 && !(b[j - 1] == b' ' || b[j - 1] == b']') {
            continue;
        }
        let ts_start = j;
        // Event token.
        let mut s = k + 2;
        while s < b.len() && b[s] == b' ' {
            s += 1;
        }
        let mut e = s;
        while e < b.len() && b[e] != b' ' {
            e += 1;
        }
        let tok = &line[s..e];
        let (event, perf) = match tok.strip_suffix(':') {
            Some(t) if !t.is_empty() => match t.rfind(':') {
                Some(c) => (Some(&t[c + 1..]), true),
                None => (Some(t), false),
            },
            _ => (None, false),
        };
        let head = &line[..ts_start];
        let hb = head.as_bytes();
        let mut p = hb.len();
        while p >= 2 && !(hb[p - 2] == b' ' && hb[p - 1] == b'[') {
            p -= 1;
        }
        let task = if p >= 2 { &head[..p - 2] } else { head };
        return Some(TraceInfo { event, perf, task });
    }
    // No timestamp (custom perf fields): a known event name followed by ':'.
    for (name, _) in EVENTS {
        for (p, _) in line.match_indices(name) {
            let e = p + name.len();
            if b.get(e) != Some(&b':') {
                continue;
            }
            if p > 0 && (b[p - 1].is_ascii_alphanumeric() || b[p - 1] == b'_') {
                continue;
            }
            let perf = p > 0 && b[p - 1] == b':';
            return Some(TraceInfo {
                event: Some(&line[p..e]),
                perf,
                task: "",
            });
        }
    }
    None
}

// ---------------------------------------------------------------------------
// Collecting the tokens of one line
// ---------------------------------------------------------------------------

fn collect<'a>(ctx: &mut LineCtx<'a>, pre: &Pre, hits: &mut Vec<Hit<'a>>) {
    let keys = pre.keys;
    let line = ctx.line;
    let b = line.as_bytes();
    let push = |hits: &mut Vec<Hit<'a>>, h: Hit<'a>| {
        if hits.len() < MAX_FINDINGS_PER_LINE {
            hits.push(h);
        }
    };
    let hit = |start, end, family, hex, printed| Hit {
        start,
        end,
        family,
        hex,
        printed,
        perf: false,
        truncated: false,
        hint: Hint::None,
    };

    if keys & K_GFP != 0 {
        let from = if keys & K_GFP_LC != 0 {
            pre.first[0]
        } else {
            b.len()
        };
        for p in occurrences(line, from, b"gfp") {
            if hits.len() >= MAX_FINDINGS_PER_LINE {
                break;
            }
            if p > 0 && (b[p - 1].is_ascii_alphanumeric() || b[p - 1] == b'_') {
                // `lgfp=`, `xgfp_mask`: someone else's field.
                continue;
            }
            if at(b, p, b"gfp_mask=") {
                let v = p + 9;
                let oom = ctx.has(P_OOM);
                if let Some((m, names, end, trunc)) = hex_names_at(line, v, false) {
                    if names.is_none() && !trunc && !oom && ctx.trace().is_some() {
                        // libtraceevent's hex (6.10 to 6.13).
                        if let Some((t, e)) = trace_value_at(line, v) {
                            let perf = ctx.is_perf();
                            push(
                                hits,
                                Hit {
                                    perf,
                                    ..hit(v, e, Family::Trace, None, Some(t))
                                },
                            );
                        }
                        continue;
                    }
                    let family = if oom { Family::Oom } else { Family::Field };
                    let hint = if names.is_none() && !trunc && oom {
                        if ctx.has(P_OOMKILLADJ) {
                            Hint::Ancient
                        } else {
                            Hint::Pre46
                        }
                    } else {
                        Hint::None
                    };
                    push(
                        hits,
                        Hit {
                            truncated: trunc,
                            hint,
                            ..hit(v, end, family, Some(m), names)
                        },
                    );
                } else if let Some((t, e)) = trace_value_at(line, v) {
                    // Compaction tracepoint: names.
                    let perf = ctx.is_perf();
                    push(
                        hits,
                        Hit {
                            perf,
                            ..hit(v, e, Family::Trace, None, Some(t))
                        },
                    );
                }
            } else if at(b, p, b"gfp_mask 0x") {
                if let Some((m, names, end, trunc)) = hex_names_at(line, p + 9, false) {
                    let hint = if names.is_none() && !trunc {
                        Hint::Pre46
                    } else {
                        Hint::None
                    };
                    push(
                        hits,
                        Hit {
                            truncated: trunc,
                            hint,
                            ..hit(p + 9, end, Family::DumpPage, Some(m), names)
                        },
                    );
                }
            } else if at(b, p, b"gfp_flags=") || at(b, p, b"gfp_flags ") {
                let v = p + 10;
                if let Some((t, e)) = trace_value_at(line, v) {
                    let perf = ctx.is_perf();
                    push(
                        hits,
                        Hit {
                            perf,
                            ..hit(v, e, Family::Trace, None, Some(t))
                        },
                    );
                }
            } else if at(b, p, b"gfp=") {
                let v = p + 4;
                if let Some((m, names, end, trunc)) = hex_names_at(line, v, false) {
                    let slab = ctx.has(P_SLUB) || ctx.has(P_SLAB);
                    let family = if slab { Family::Slab } else { Family::Field };
                    let old = p > 0 && b[p - 1] == b'(';
                    let hint = if names.is_none() && !trunc && slab && old {
                        Hint::Pre46
                    } else {
                        Hint::None
                    };
                    push(
                        hits,
                        Hit {
                            truncated: trunc,
                            hint,
                            ..hit(v, end, family, Some(m), names)
                        },
                    );
                } else if let Some((n, e)) = dec_at(b, v) {
                    // Synthetic event: `gfp=3264 (GFP_KERNEL)`.
                    if b.get(e) == Some(&b' ') {
                        if let Paren::Names(t, end) = paren_at(line, e + 1) {
                            push(hits, hit(v, end, Family::Synthetic, Some(n), Some(t)));
                        }
                    }
                } else if let Some((t, e)) = trace_value_at(line, v) {
                    if !looks_like_gfp_names(t) {
                        continue;
                    }
                    if ctx.has(P_LOCKUP) {
                        push(hits, hit(v, e, Family::TestLockup, None, Some(t)));
                    } else if ctx.trace().is_some() {
                        let perf = ctx.is_perf();
                        push(
                            hits,
                            Hit {
                                perf,
                                ..hit(v, e, Family::Trace, None, Some(t))
                            },
                        );
                    } else {
                        push(hits, hit(v, e, Family::Field, None, Some(t)));
                    }
                }
            } else if at(b, p, b"gfp: 0x") {
                let v = p + 5;
                if let Some((m, names, end, trunc)) = hex_names_at(line, v, true) {
                    let family = if before(b, p, b"Unexpected ") {
                        Family::UnexpectedGfp
                    } else if before(b, p, b"up to ") {
                        Family::FixedGfp
                    } else {
                        Family::Field
                    };
                    push(
                        hits,
                        Hit {
                            truncated: trunc,
                            ..hit(v, end, family, Some(m), names)
                        },
                    );
                }
            }
        }
        // Names-only sites; a line whose names were already read through a
        // `gfp...` token is none of them.
        let names_only = hits.is_empty();
        if let Some(d) = names_only.then(|| line.find("DMA: ")).flatten() {
            let rest = &line[d..];
            if let Some(k) = rest.find(" KiB ") {
                let s = d + k + 5;
                let e = names_end(b, s);
                if at(b, e, b" pool") {
                    let t = &line[s..e];
                    if valid_names(t) {
                        push(hits, hit(s, e, Family::DmaPool, None, Some(t)));
                    }
                }
            }
        }
        // Synthetic events under any field name: `name=%u (FLAGS)`.
        if names_only && line.contains(" (") && ctx.trace().is_some() {
            for p in occurrences(line, 0, b" (") {
                if hits.len() >= MAX_FINDINGS_PER_LINE {
                    break;
                }
                let mut j = p;
                while j > 0 && b[j - 1].is_ascii_digit() {
                    j -= 1;
                }
                if j == p || j == 0 || b[j - 1] != b'=' || before(b, j, b"gfp=") {
                    continue;
                }
                if let Paren::Names(t, end) = paren_at(line, p + 1) {
                    if !t.contains("GFP") {
                        continue;
                    }
                    if let Some((n, _)) = dec_at(b, j) {
                        push(hits, hit(j, end, Family::Synthetic, Some(n), Some(t)));
                    }
                }
            }
        }
    }

    if keys & K_OFFLINE != 0 {
        if let Some(q) = line.find(" allocation from offline node") {
            let mut s = q;
            while s > 0 && is_name_byte(b[s - 1]) && q - s <= MAX_NAMES_LEN {
                s -= 1;
            }
            let t = &line[s..q];
            if valid_names(t) {
                let hex = hex_token(t);
                let printed = if hex.is_some() { None } else { Some(t) };
                push(hits, hit(s, q, Family::Offline, hex, printed));
            }
        }
    }

    if keys & K_MODE != 0 {
        for p in occurrences(line, pre.first[1], b"mode:") {
            if hits.len() >= MAX_FINDINGS_PER_LINE {
                break;
            }
            let v = p + 5;
            let Some((m, names, end, trunc)) = hex_names_at(line, v, false) else {
                continue;
            };
            let xfs = ctx.has(P_XFS) && ctx.has(P_DEADLOCK_MSG);
            let alloc = ctx.has(P_ALLOC_FAILURE)
                || ctx.has(P_ALLOC_FAILURE2)
                || ctx.has(P_STALLS)
                || ctx.has(P_VMALLOC);
            if !(xfs || alloc || names.is_some()) {
                continue;
            }
            let family = if xfs && !alloc {
                Family::Xfs
            } else {
                Family::AllocWarn
            };
            let hint = if names.is_some() || trunc {
                Hint::None
            } else if family == Family::Xfs {
                Hint::Xfs
            } else if ctx.has(P_ANCIENT) {
                Hint::Ancient
            } else {
                Hint::Pre46
            };
            push(
                hits,
                Hit {
                    truncated: trunc,
                    hint,
                    ..hit(v, end, family, Some(m), names)
                },
            );
        }
    }

    if keys & K_MASK != 0 {
        for p in occurrences(line, pre.first[2], b"mask") {
            if hits.len() >= MAX_FINDINGS_PER_LINE {
                break;
            }
            if p > 0 && (b[p - 1].is_ascii_alphanumeric() || b[p - 1] == b'_') {
                continue;
            }
            if at(b, p, b"mask 0x") {
                if let Some((m, names, end, trunc)) = hex_names_at(line, p + 5, false) {
                    let owner = ctx.has(P_OWNER);
                    if !owner && names.is_none() {
                        continue;
                    }
                    let family = if owner {
                        Family::PageOwner
                    } else {
                        Family::Field
                    };
                    let hint = if names.is_none() && !trunc {
                        Hint::Pre46
                    } else {
                        Hint::None
                    };
                    push(
                        hits,
                        Hit {
                            truncated: trunc,
                            hint,
                            ..hit(p + 5, end, family, Some(m), names)
                        },
                    );
                }
            } else if at(b, p, b"mask=") && ctx.event() == Some("alloc_extent_state") {
                if let Some((t, e)) = trace_value_at(line, p + 5) {
                    let perf = ctx.is_perf();
                    push(
                        hits,
                        Hit {
                            perf,
                            ..hit(p + 5, e, Family::Trace, None, Some(t))
                        },
                    );
                }
            }
        }
    }

    if keys & K_FLAGS != 0 {
        for p in occurrences(line, pre.first[3], b"flags=") {
            if hits.len() >= MAX_FINDINGS_PER_LINE {
                break;
            }
            let v = p + 6;
            if before(b, p, b"gfp_") {
                continue;
            }
            if before(b, p, b"l") {
                if !before(b, p, b" l") {
                    continue;
                }
                if let Some((m, e)) = hex_at(b, v) {
                    if ctx.has(P_DEADLOCK) {
                        push(hits, hit(v, e, Family::Spl, Some(m), None));
                    }
                }
                continue;
            }
            if p > 0 && (b[p - 1].is_ascii_alphanumeric() || b[p - 1] == b'_') {
                continue;
            }
            if ctx.event().is_some_and(|e| e.starts_with("dma_")) {
                if let Some((t, e)) = trace_value_at(line, v) {
                    let perf = ctx.is_perf();
                    push(
                        hits,
                        Hit {
                            perf,
                            ..hit(v, e, Family::Trace, None, Some(t))
                        },
                    );
                }
            }
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
