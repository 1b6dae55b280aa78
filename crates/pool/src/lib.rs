//! aergo-pool: not built yet.
