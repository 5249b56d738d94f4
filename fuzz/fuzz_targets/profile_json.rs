//! Feeds arbitrary bytes to the `--profile FILE` loader: JSON into a
//! `gfp::Profile`, then `Profile::validate`, as `gfp-cli` does. A profile
//! that validates must then be usable for every renderer and translation
//! without panicking, for masks taken from the input.
#![no_main]

use gfp::render;
use gfp::Profile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(profile) = serde_json::from_slice::<Profile>(data) else {
        return;
    };
    if profile.validate().is_err() {
        return;
    }
    let mut masks = vec![0u32, u32::MAX, profile.bits_mask, !profile.bits_mask];
    masks.extend(data.chunks(4).take(8).map(|c| {
        let mut b = [0u8; 4];
        b[..c.len()].copy_from_slice(c);
        u32::from_le_bytes(b)
    }));
    for mask in masks {
        let _ = render::pgg(&profile, mask);
        let _ = render::trace(&profile, mask);
        let _ = render::libtraceevent(&profile, mask);
        let _ = render::hex_and_pgg(&profile, mask);
        let t = profile.to_native(mask);
        let _ = profile.from_native(t.gfp);
        let _ = format!("{t:?}");
    }
    for f in profile.flags.iter().chain(&profile.composites) {
        let _ = profile.lookup(&f.name);
        let _ = gfp::parse::parse_mask(&profile, &f.name);
    }
    // The profile also drives the log reader (`gfp decode --profile FILE`).
    let mut scanner =
        gfp::logscan::LogScanner::new(gfp::logscan::ScanOptions::with_profile(profile.clone()));
    let line = format!(
        "page allocation failure: order:0, mode:{:#x}({}), nodemask=(null)",
        profile.bits_mask,
        render::pgg(&profile, profile.bits_mask)
    );
    let _ = scanner.scan_line(1, &line);
});
