//! Benchmarks on the emulator (`make bench`): AWS requests per permit through ingest, deliveries
//! through forward -> receive, the requests a customs use costs, and the annual report of a
//! synthetic year. Figures go to the README; nothing here asserts a time.

pub mod batches;
pub mod exchange;
pub mod permit_use;
pub mod pipeline;
pub mod report;
