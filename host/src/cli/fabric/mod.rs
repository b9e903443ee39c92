//! placeholder
use clap::Args;
#[derive(Args)]
pub struct FabricArgs {}
pub fn run(_g: &super::Global, _a: FabricArgs) -> anyhow::Result<super::Outcome> {
    Ok(super::Outcome::Success)
}
