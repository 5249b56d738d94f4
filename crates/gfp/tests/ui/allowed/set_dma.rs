// set __GFP_DMA: safe-unrequested.
fn main() {
    let _scope = gfp::scope::set::<gfp::flag::Dma>();
}
