// clear __GFP_MOVABLE: task-flag.
fn main() {
    let _scope = gfp::scope::clear::<gfp::flag::Movable>();
}
