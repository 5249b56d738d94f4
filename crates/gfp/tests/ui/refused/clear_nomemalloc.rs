// clear __GFP_NOMEMALLOC: unsafe.
fn main() {
    let _scope = gfp::scope::clear::<gfp::flag::Nomemalloc>();
}
