// clear __GFP_MEMALLOC: unsafe.
fn main() {
    let _scope = gfp::scope::clear::<gfp::flag::Memalloc>();
}
