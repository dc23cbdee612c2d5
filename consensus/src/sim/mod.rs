//! The seeded network simulator.
