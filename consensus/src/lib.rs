//! Tendermint BFT consensus as a pure state machine. Filled in by the consensus issue.
