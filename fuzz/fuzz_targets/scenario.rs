//! Feeds arbitrary text to the scenario parser (`gfp_sim::parse`), the
//! format behind `gfp sim FILE`. A scenario that parses must print back to
//! text that parses to the same scenario, and dropping its scopes must give
//! a scenario that prints and parses too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(scenario) = gfp_sim::parse(text) else {
        return;
    };
    let printed = gfp_sim::print(&scenario);
    let again = gfp_sim::parse(&printed)
        .unwrap_or_else(|e| panic!("printed scenario does not parse: {e}\n{printed}"));
    assert_eq!(
        gfp_sim::print(&again),
        printed,
        "print is not a fixed point"
    );
    let bare = gfp_sim::format::drop_scopes(&scenario);
    let printed = gfp_sim::print(&bare);
    gfp_sim::parse(&printed)
        .unwrap_or_else(|e| panic!("scenario without scopes does not parse: {e}\n{printed}"));
});
