//! The demos `make demo` runs, each a program over the emulated stack that ends with tables a
//! person reads: the ingest pipeline, the two-MA exchange, EPIX Connect's interface both ways,
//! notifications, and permit use with the annual reports.

pub mod epix;
pub mod exchange;
pub mod notify;
pub mod permit_use;
pub mod pipeline;
