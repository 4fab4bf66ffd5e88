//! minmax-net (to come)
