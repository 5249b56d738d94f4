//! Deterministic simulation of scoped GFP allocations.
//!
//! * [`format`](mod@format): the scenario text format (version 1), its data model,
//!   parser and printer (`FORMAT.md` describes it in full).
//! * [`sim`]: the simulator (seeded scheduler, virtual time, gfp-mm's
//!   allocator and memory manager) and its detectors ([`sim::Rule`]).
//! * [`builtin`]: the scenarios that ship with the crate.
//! * [`timeline`]: what a run did over time (zone free pages and
//!   watermarks, reclaim activity, task and kswapd events), recorded on
//!   request ([`SimConfig::record_timeline`], [`run_recorded`]).
//! * [`html`]: one self-contained HTML page with SVG plots of a run.
//! * [`verify`]: the bounded search behind `gfp verify`, which derives a
//!   verdict for every cell of the scope policy table.
//!
//! ```
//! let text = gfp_sim::builtin::get("bcachefs-scoped-nowait").unwrap();
//! let report = gfp_sim::run_text(text, 1).unwrap();
//! assert!(report.has(gfp_sim::sim::Rule::NofailFailed));
//! ```
// No unsafe code, save one audited block: the kernel stacks' access to
// the running coroutine's yielder (`sim::stack::block`).
#![deny(unsafe_code)]

pub mod builtin;
pub mod format;
pub mod html;
pub mod sim;
pub mod timeline;
pub mod verify;

pub use format::{parse, print, ParseError, Scenario};
pub use sim::{Finding, Report, Rule, SimConfig};
pub use timeline::Timeline;

/// Why a scenario text could not be run.
#[derive(Debug)]
pub enum Error {
    /// The text does not parse.
    Parse(ParseError),
    /// The machine could not be built.
    Setup(sim::SetupError),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Parse(e) => write!(f, "{e}"),
            Error::Setup(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {}

/// Parses `text` and runs it with `seed`.
pub fn run_text(text: &str, seed: u64) -> Result<Report, Error> {
    let s = parse(text).map_err(Error::Parse)?;
    sim::run(&s, seed).map_err(Error::Setup)
}

/// Runs `scenario` with `seed`, recording a [`Timeline`] (for
/// [`html::render`]). The report is the one [`sim::run`] gives.
pub fn run_recorded(scenario: &Scenario, seed: u64) -> Result<(Report, Timeline), sim::SetupError> {
    run_recorded_with(
        scenario,
        SimConfig {
            seed,
            ..SimConfig::default()
        },
    )
}

/// [`run_recorded`] with `config` (its `record_timeline` is set).
pub fn run_recorded_with(
    scenario: &Scenario,
    config: SimConfig,
) -> Result<(Report, Timeline), sim::SetupError> {
    let config = SimConfig {
        record_timeline: true,
        ..config
    };
    let (report, timeline) = sim::Sim::new(scenario, config)?.run_timeline();
    Ok((report, timeline.expect("recording was requested")))
}
