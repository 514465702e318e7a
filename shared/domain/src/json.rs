//! The JSON form of a permit.
