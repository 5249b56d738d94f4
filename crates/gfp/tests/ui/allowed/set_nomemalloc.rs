// set __GFP_NOMEMALLOC: pointless.
fn main() {
    let _scope = gfp::scope::set::<gfp::flag::Nomemalloc>();
}
