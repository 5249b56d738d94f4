// set __GFP_NO_OBJ_EXT: mm-internal.
fn main() {
    let _scope = gfp::scope::set::<gfp::flag::NoObjExt>();
}
