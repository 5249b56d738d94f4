// clear __GFP_NO_OBJ_EXT: unsafe.
fn main() {
    let _scope = gfp::scope::clear::<gfp::flag::NoObjExt>();
}
