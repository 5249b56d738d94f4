// clear __GFP_DMA: unsafe.
fn main() {
    let _scope = gfp::scope::clear::<gfp::flag::Dma>();
}
