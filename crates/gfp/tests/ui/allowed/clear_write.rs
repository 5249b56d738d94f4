// clear __GFP_WRITE: safe-unrequested.
fn main() {
    let _scope = gfp::scope::clear::<gfp::flag::Write>();
}
