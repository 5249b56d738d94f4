// clear __GFP_HIGHMEM: safe-unrequested.
fn main() {
    let _scope = gfp::scope::clear::<gfp::flag::Highmem>();
}
