//! aergo-crypto: not built yet.
