//! minmax-bins (to come)
