// clear __GFP_IO: task-flag.
fn main() {
    let _scope = gfp::scope::clear::<gfp::flag::Io>();
}
