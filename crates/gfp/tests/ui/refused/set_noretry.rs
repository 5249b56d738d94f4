// set __GFP_NORETRY: unsafe.
fn main() {
    let _scope = gfp::scope::set::<gfp::flag::Noretry>();
}
