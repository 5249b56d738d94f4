// set __GFP_MEMALLOC: task-flag.
fn main() {
    let _scope = gfp::scope::set::<gfp::flag::Memalloc>();
}
