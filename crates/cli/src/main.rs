//! The `aergo` command line.
fn main() -> anyhow::Result<()> {
    anyhow::bail!("not built yet")
}
