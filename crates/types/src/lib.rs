//! aergo-types: not built yet.
