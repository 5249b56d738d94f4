// set __GFP_DMA32: unsafe.
fn main() {
    let _scope = gfp::scope::set::<gfp::flag::Dma32>();
}
