//! aergo-node: not built yet.
