//! aergo-chain: not built yet.
