// set __GFP_RETRY_MAYFAIL: unsafe.
fn main() {
    let _scope = gfp::scope::set::<gfp::flag::RetryMayfail>();
}
