// set __GFP_MOVABLE: unsafe.
fn main() {
    let _scope = gfp::scope::set::<gfp::flag::Movable>();
}
