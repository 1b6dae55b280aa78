//! aergo-rpc: not built yet.
