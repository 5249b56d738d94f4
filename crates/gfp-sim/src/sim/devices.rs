//! Block and swap devices with a latency and injected errors
//! (`device NAME block|swap [latency=NS] [fail=...]`).
//!
//! Every request is one page written by reclaim (swap-out to the swap
//! device, writeback of dirty page cache to the filesystem's device, the
//! first block device) or one `io` operation. Whether a request fails
//! depends only on the device's declaration, its request count and, for
//! `rate:P/Q`, a generator seeded with the run's seed and the device's
//! position: the same scenario and seed fail the same requests.
//!
//! What a failure does: a swap-out write leaves its page in memory (gfp-mm
//! keeps it, as `end_swap_bio_write()` re-dirties it), so reclaim makes
//! less progress; a writeback write cleans the page anyway and leaves the
//! error in the filesystem's mapping, which `fsync` reports once
//! (`errseq_t`); an `io` returns the error to the task.

use crate::format::{BlockIo, DeviceDecl, DeviceKind, FailMode};

use super::XorShift;

/// A block I/O's latency when no device says otherwise.
pub const DEFAULT_LATENCY_NS: u64 = 100_000;

/// One device and its counters.
pub(super) struct Device {
    /// Its name.
    pub(super) name: String,
    /// Block or swap.
    pub(super) kind: DeviceKind,
    /// Time one request takes.
    pub(super) latency_ns: u64,
    fail: Option<FailMode>,
    rng: XorShift,
    /// Requests so far.
    pub(super) requests: u64,
    /// Requests that failed.
    pub(super) errors: u64,
}

impl Device {
    fn new(d: &DeviceDecl, seed: u64, index: usize) -> Device {
        Device {
            name: d.name.clone(),
            kind: d.kind,
            latency_ns: d.latency_ns.unwrap_or(DEFAULT_LATENCY_NS),
            fail: d.fail,
            // Its own stream, so that a device's errors never move the
            // scheduler's choices (and a second device not the first's).
            rng: XorShift::new(splitmix(seed ^ splitmix(index as u64 + 1))),
            requests: 0,
            errors: 0,
        }
    }

    /// One request; `true` when it fails.
    pub(super) fn request(&mut self) -> bool {
        self.requests += 1;
        let fails = match self.fail {
            None => false,
            Some(FailMode::Every(n)) => self.requests % n.max(1) == 0,
            Some(FailMode::After(n)) => self.requests > n,
            Some(FailMode::Rate(p, q)) => self.rng.next_u64() % u64::from(q.max(1)) < u64::from(p),
        };
        if fails {
            self.errors += 1;
        }
        fails
    }
}

/// SplitMix64's finaliser: spreads neighbouring seeds apart.
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The scenario's devices, and the filesystem mapping's error state.
pub(super) struct Devices {
    /// In declaration order.
    pub(super) list: Vec<Device>,
    /// The swap device, when declared.
    pub(super) swap: Option<usize>,
    /// The filesystem's device: the first block device.
    pub(super) fs: Option<usize>,
    /// A writeback error not yet reported by `fsync` (`AS_EIO`).
    pub(super) mapping_error: bool,
    /// `io` requests that failed.
    pub(super) io_errors: u64,
}

impl Devices {
    /// The declared devices; `seed` seeds the `rate:` failures.
    pub(super) fn new(decls: &[DeviceDecl], seed: u64) -> Devices {
        let list: Vec<Device> = decls
            .iter()
            .enumerate()
            .map(|(i, d)| Device::new(d, seed, i))
            .collect();
        Devices {
            swap: list.iter().position(|d| d.kind == DeviceKind::Swap),
            fs: list.iter().position(|d| d.kind == DeviceKind::Block),
            list,
            mapping_error: false,
            io_errors: 0,
        }
    }

    /// A device by name.
    pub(super) fn find(&self, name: &str) -> Option<usize> {
        self.list.iter().position(|d| d.name == name)
    }

    /// Reclaim writes one page to swap: `true` when the device fails it.
    pub(super) fn swap_write_fails(&mut self) -> bool {
        self.swap.is_some_and(|d| self.list[d].request())
    }

    /// Writeback of one page to the filesystem's device: `true` when it
    /// fails, which marks the mapping.
    pub(super) fn writeback_fails(&mut self) -> bool {
        let fails = self.fs.is_some_and(|d| self.list[d].request());
        self.mapping_error |= fails;
        fails
    }
}

impl super::Sim {
    /// `io [VAR] [dev=NAME]`: runs the block layer's submission and waits
    /// the device's latency (the blocks of [`super::Sim::io_bodies`]); the
    /// request completes when that frame ends ([`super::Sim::io_complete`]).
    pub(super) fn op_io(&mut self, i: usize, io: BlockIo) {
        let dev = io
            .device
            .as_deref()
            .and_then(|d| self.world.lock().devices.find(d))
            .or_else(|| self.world.lock().devices.fs);
        let block = self.io_blocks[dev.unwrap_or(self.io_blocks.len() - 1)];
        self.push_block(i, block, super::FrameKind::Io(dev, io.var));
    }

    /// An `io` completes: the device may fail it. The status goes to the
    /// variable (`if-failed VAR` is the error path); a failure the caller
    /// does not look at (no variable) is `unhandled-failure`.
    pub(super) fn io_complete(&mut self, i: usize, dev: Option<usize>, var: Option<String>) {
        let failed = dev.and_then(|d| {
            let mut w = self.world.lock();
            let devices = &mut w.devices;
            let d = &mut devices.list[d];
            let failed = d.request().then(|| d.name.clone());
            devices.io_errors += u64::from(failed.is_some());
            failed
        });
        self.io_status(
            i,
            var,
            failed.map(|d| format!("block I/O on device {d} failed (an injected device error)")),
        );
    }

    /// `fsync [VAR]`: the filesystem mapping's writeback error, reported
    /// once (`errseq_t`): kswapd's writeback failed since the last `fsync`.
    pub(super) fn op_fsync(&mut self, i: usize, var: Option<String>) {
        let failed = std::mem::take(&mut self.world.lock().devices.mapping_error);
        self.io_status(
            i,
            var,
            failed.then(|| {
                "fsync: writeback of the filesystem's pages failed (an injected device error; the mapping kept the error)".to_string()
            }),
        );
    }

    fn io_status(&mut self, i: usize, var: Option<String>, error: Option<String>) {
        match (var, error) {
            (Some(v), None) => {
                self.set_var(i, &v, super::Var::IoDone);
            }
            (Some(v), Some(_)) => {
                self.set_var(i, &v, super::Var::Failed);
            }
            (None, None) => {}
            (None, Some(e)) => self.finding(
                i,
                super::Rule::UnhandledFailure,
                format!("{e} and the caller has no error path (no status variable)"),
            ),
        }
    }
}
