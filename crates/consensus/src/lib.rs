//! aergo-consensus: not built yet.
