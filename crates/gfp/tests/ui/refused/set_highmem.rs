// set __GFP_HIGHMEM: unsafe.
fn main() {
    let _scope = gfp::scope::set::<gfp::flag::Highmem>();
}
