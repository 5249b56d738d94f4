// clear __GFP_DMA32: unsafe.
fn main() {
    let _scope = gfp::scope::clear::<gfp::flag::Dma32>();
}
