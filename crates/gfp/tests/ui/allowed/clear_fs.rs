// clear __GFP_FS: task-flag.
fn main() {
    let _scope = gfp::scope::clear::<gfp::flag::Fs>();
}
