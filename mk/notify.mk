# Notifications to customs and other agencies (issue 5) on the local emulator.
# Included by the main Makefile: `include mk/notify.mk` (after mk/local-aws.mk, for MOTO_SERVER).

.PHONY: demo-notify test-notify

# A customs queue (SNS filter policy) and the issuing MA's signed webhook each receive what they
# subscribed to and nothing else; a stream replay notifies nobody twice.
demo-notify: $(MOTO_SERVER) ## Notifications: customs queue and signed webhook get what they subscribed to, nothing else
	ECITES_MOTO_SERVER=$(abspath $(MOTO_SERVER)) RUST_LOG=error cargo run --quiet -p ecites-local -- demo-notify

# Unit and end-to-end tests of notifications (the e2e tests start moto themselves).
test-notify: $(MOTO_SERVER) ## Unit and end-to-end tests of notifications
	ECITES_MOTO_SERVER=$(abspath $(MOTO_SERVER)) cargo test -p ecites-exchange -p ecites-notify -p ecites-local && \
	ECITES_MOTO_SERVER=$(abspath $(MOTO_SERVER)) cargo test -p ecites-e2e --test notify
