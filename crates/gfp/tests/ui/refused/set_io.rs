// set __GFP_IO: unsafe.
fn main() {
    let _scope = gfp::scope::set::<gfp::flag::Io>();
}
