// clear __GFP_NOLOCKDEP: pointless.
fn main() {
    let _scope = gfp::scope::clear::<gfp::flag::Nolockdep>();
}
