//! Lambda cost per 1,000 permits exchanged end to end (issue #20), from the packaged functions'
//! billed durations in the smoke flow with a fixed latency on every AWS call.
//!
//! Lambda bills each invocation's duration, rounded up to the millisecond, times the memory
//! size, plus a price per request (AWS Lambda pricing, us-east-1, first tier: arm64
//! $0.0000133334 and x86_64 $0.0000166667 per GB-second, $0.20 per million requests).
//!
//! The memory size also sets the CPU: a function gets one full vCPU at 1,769 MB and a
//! proportional share below. The local processes run on a full core, so the flow measures
//! each function's CPU time at one vCPU; the model of [`modelled_ms`] stretches that CPU time
//! for smaller sizes and keeps the waiting (AWS and partner round trips) as it is, which is
//! how AWS Lambda Power Tuning's measurements behave for I/O-bound functions. The cheapest size
//! by the model is printed next to the template's.

use super::smoke::FunctionReport;
use std::fmt::Write as _;
use std::time::Duration;

/// A Lambda price list.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prices {
    /// The architecture.
    pub architecture: &'static str,
    /// USD per GB-second.
    pub gb_second: f64,
    /// USD per request.
    pub request: f64,
}

/// Graviton.
pub const ARM64: Prices = Prices {
    architecture: "arm64",
    gb_second: 0.000_013_333_4,
    request: 0.2e-6,
};

/// x86.
pub const X86_64: Prices = Prices {
    architecture: "x86_64",
    gb_second: 0.000_016_666_7,
    request: 0.2e-6,
};

/// The memory size at which a function has one full vCPU.
pub const FULL_VCPU_MB: f64 = 1769.0;

/// The sizes the model compares, MB.
pub const MEMORY_SIZES: [u32; 5] = [128, 256, 512, 1024, 1769];

/// Permits a year at a large MA (issue #18: about 100,000).
pub const PERMITS_A_YEAR: f64 = 100_000.0;

/// Billed milliseconds of `invocations` at `memory_mb`, from the flow's `billed_ms` and `cpu`
/// measured at one vCPU: the waiting part unchanged, the CPU part stretched by 1,769 / size
/// below one vCPU, each invocation rounded up to the millisecond.
pub fn modelled_ms(billed_ms: u64, cpu: Duration, invocations: u32, memory_mb: u32) -> f64 {
    let cpu_ms = cpu.as_secs_f64() * 1e3;
    let waiting = (billed_ms as f64 - cpu_ms).max(0.0);
    let stretch = (FULL_VCPU_MB / f64::from(memory_mb.max(128))).max(1.0);
    let total = waiting + cpu_ms * stretch;
    // Rounding: half a millisecond per invocation on average.
    total + 0.5 * f64::from(invocations)
}

/// USD for `billed_ms` at `memory_mb` and `invocations` requests.
pub fn cost(prices: Prices, billed_ms: f64, memory_mb: u32, invocations: u32) -> f64 {
    billed_ms / 1e3 * f64::from(memory_mb) / 1024.0 * prices.gb_second
        + f64::from(invocations) * prices.request
}

/// The cheapest size by the model.
pub fn cheapest_memory(f: &FunctionReport) -> u32 {
    MEMORY_SIZES
        .iter()
        .copied()
        .min_by(|a, b| {
            let at = |mb| {
                cost(
                    ARM64,
                    modelled_ms(f.flow.billed_ms, f.flow.cpu, f.flow.invocations, mb),
                    mb,
                    f.flow.invocations,
                )
            };
            at(*a).total_cmp(&at(*b))
        })
        .unwrap_or(128)
}

/// The cost table: per function and in total, per 1,000 permits, per architecture, and a
/// month at [`PERMITS_A_YEAR`].
pub fn render(functions: &[FunctionReport], permits: usize, latency: Duration) -> String {
    let per_thousand = 1000.0 / permits.max(1) as f64;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Lambda cost of {permits} permits exchanged end to end ({} ms added to every AWS call), \
         per 1,000 permits:",
        latency.as_millis()
    );
    let _ = writeln!(
        out,
        "  {:<10} {:>6} {:>10} {:>8} {:>7} {:>12} {:>12} {:>9}",
        "function", "calls", "billed ms", "CPU ms", "memory", "arm64 USD", "x86_64 USD", "cheapest"
    );
    let mut totals = [0.0f64; 2];
    for f in functions.iter().filter(|f| f.flow.invocations > 0) {
        let billed = f.flow.billed_ms as f64;
        let costs = [ARM64, X86_64]
            .map(|prices| cost(prices, billed, f.memory_mb, f.flow.invocations) * per_thousand);
        totals[0] += costs[0];
        totals[1] += costs[1];
        let _ = writeln!(
            out,
            "  {:<10} {:>6} {:>10} {:>8.0} {:>4} MB {:>12.6} {:>12.6} {:>6} MB",
            f.binary,
            f.flow.invocations,
            f.flow.billed_ms,
            f.flow.cpu.as_secs_f64() * 1e3,
            f.memory_mb,
            costs[0],
            costs[1],
            cheapest_memory(f)
        );
    }
    let _ = writeln!(
        out,
        "  {:<10} {:>6} {:>10} {:>8} {:>7} {:>12.6} {:>12.6}",
        "total", "", "", "", "", totals[0], totals[1]
    );
    let monthly = PERMITS_A_YEAR / 12.0 / 1000.0;
    let _ = writeln!(
        out,
        "  a month at {} permits a year: arm64 USD {:.4}, x86_64 USD {:.4} (Lambda only; the \
         free tier not deducted)",
        PERMITS_A_YEAR as u64,
        totals[0] * monthly,
        totals[1] * monthly
    );
    let _ = writeln!(
        out,
        "  (billed: each invocation from hand-over to answer, rounded up to the ms, measured on \
         x86_64; arm64 priced on the same durations. CPU: the process's, at one full core. \
         cheapest: the size costing least by the model, CPU stretched below 1,769 MB)"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_at_one_gigabyte_costs_the_gb_second_price() {
        let usd = cost(X86_64, 1000.0, 1024, 0);
        assert!((usd - 0.000_016_666_7).abs() < 1e-12);
        let requests = cost(ARM64, 0.0, 128, 1_000_000);
        assert!((requests - 0.2).abs() < 1e-9);
    }

    #[test]
    fn the_model_stretches_cpu_below_one_vcpu_and_keeps_the_waiting() {
        // 100 ms billed, 10 ms of it CPU, one invocation.
        let cpu = Duration::from_millis(10);
        let at_full = modelled_ms(100, cpu, 1, 1769);
        let at_128 = modelled_ms(100, cpu, 1, 128);
        assert!((at_full - 100.5).abs() < 1e-9);
        assert!((at_128 - (90.0 + 10.0 * 1769.0 / 128.0 + 0.5)).abs() < 1e-9);
        // Above one vCPU, nothing gets faster.
        assert!((modelled_ms(100, cpu, 1, 3008) - at_full).abs() < 1e-9);
    }
}
