//! The client transport (to come).
