//! aergo-exec: not built yet.
