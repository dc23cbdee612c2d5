//! Audit tests (being written).
