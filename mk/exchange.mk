# MA-to-MA exchange on the local emulator: two MAs (XA, XB) with signed envelopes over loopback.
# Included by the main Makefile: `include mk/exchange.mk`. Adds the exchange to `make demo`
# and `make bench` as prerequisites, so the main recipes stay untouched.

.PHONY: demo-exchange demo-epix demo-use bench-exchange bench-batches bench-use bench-report test-exchange soak

# The handlers print one CloudWatch EMF line per batch; the demo hides them.
demo-exchange: $(MOTO_SERVER) ## Two MAs exchange a permit, replacement, cancellation; outage, DLQ, replay; forgery refused; a pull partner fetches
	@set -o pipefail; ECITES_MOTO_SERVER=$(abspath $(MOTO_SERVER)) RUST_LOG=error cargo run --quiet -p ecites-local -- demo-exchange | grep -v '^{"'

demo-epix: $(MOTO_SERVER) ## EPIX Connect's SOAP interface both ways: XA serves its permit over mutual TLS to XB (not to a third country), XB confirms quantities, XB pulls from an EPIX-only MA
	@set -o pipefail; ECITES_MOTO_SERVER=$(abspath $(MOTO_SERVER)) RUST_LOG=error cargo run --quiet -p ecites-local -- demo-epix | grep -v '^{"'

demo-use: $(MOTO_SERVER) ## Permit use: endorsed at export, confirmed at import, balances on both ledgers; second consignment, over-quantity, expired, never received: each an alert
	@set -o pipefail; ECITES_MOTO_SERVER=$(abspath $(MOTO_SERVER)) RUST_LOG=error cargo run --quiet -p ecites-local -- demo-use | grep -v '^{"'

bench-exchange: $(MOTO_SERVER) ## Deliveries/s through forward -> receive on loopback and AWS requests per delivery
	@set -o pipefail; ECITES_MOTO_SERVER=$(abspath $(MOTO_SERVER)) RUST_LOG=error cargo run --quiet -p ecites-local -- bench-exchange --deliveries $(or $(DELIVERIES),100) | grep -v '^{"'

bench-batches: $(MOTO_SERVER) ## A batch of ten against a batch of one for ingest, forward and webhooks, with 20 ms (LATENCY_MS) added to every AWS call
	@set -o pipefail; ECITES_MOTO_SERVER=$(abspath $(MOTO_SERVER)) RUST_LOG=error cargo run --quiet -p ecites-local -- bench-batches --latency-ms $(or $(LATENCY_MS),20) --batches $(or $(BATCHES),5) | grep -v '^{"'

soak: $(MOTO_SERVER) ## Two MAs with notifications and uses, PERMITS (2000) permits in every form, 5 % of every function's AWS calls faulted (FAULT_RATE), a flapping partner and subscribers, runners killed; then an audit (exits 1 unless 0 lost and 0 doubled), then HOSTILE_CASES (3000) generated hostile requests at each endpoint
	@set -o pipefail; ECITES_MOTO_SERVER=$(abspath $(MOTO_SERVER)) RUST_LOG=error cargo run --quiet -p ecites-local -- soak --permits $(or $(PERMITS),2000) --fault-rate $(or $(FAULT_RATE),0.05) | grep -v '^{"'
	ECITES_HOSTILE_CASES=$(or $(HOSTILE_CASES),3000) cargo test --release --quiet -p ecites-exchange --lib hostile_

bench-use: $(MOTO_SERVER) ## AWS requests per customs use (each path) and per verification on the emulator
	@set -o pipefail; ECITES_MOTO_SERVER=$(abspath $(MOTO_SERVER)) RUST_LOG=error cargo run --quiet -p ecites-local -- bench-use --uses $(or $(USES),50) | grep -v '^{"'

bench-report: $(MOTO_SERVER) ## The annual report of a synthetic year (20,000 permits with uses) on the emulator: rows/s and peak memory of the released CLI
	cargo build --release --quiet --bin ecites
	@set -o pipefail; ECITES_MOTO_SERVER=$(abspath $(MOTO_SERVER)) RUST_LOG=error cargo run --quiet -p ecites-local -- bench-report --permits $(or $(PERMITS),20000) --ecites target/release/ecites | grep -v '^{"'

test-exchange: $(MOTO_SERVER) ## Unit and end-to-end tests of the exchange crates
	ECITES_MOTO_SERVER=$(abspath $(MOTO_SERVER)) cargo test -p ecites-exchange -p ecites-aws -p ecites-forward -p ecites-receive -p ecites-local
	ECITES_MOTO_SERVER=$(abspath $(MOTO_SERVER)) cargo test -p ecites-e2e --test exchange

bench: bench-exchange bench-batches bench-use bench-report
