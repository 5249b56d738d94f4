// set __GFP_FS: unsafe.
fn main() {
    let _scope = gfp::scope::set::<gfp::flag::Fs>();
}
