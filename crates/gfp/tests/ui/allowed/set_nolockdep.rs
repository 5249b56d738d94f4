// set __GFP_NOLOCKDEP: safe.
fn main() {
    let _scope = gfp::scope::set::<gfp::flag::Nolockdep>();
}
