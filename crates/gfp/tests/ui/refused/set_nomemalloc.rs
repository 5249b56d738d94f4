// set __GFP_NOMEMALLOC: unsafe.
fn main() {
    let _scope = gfp::scope::set::<gfp::flag::Nomemalloc>();
}
