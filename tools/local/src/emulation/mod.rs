//! Emulation: what AWS and the outside world would do, played on loopback. moto server is the
//! AWS emulator; these modules play Lambda's parts of it (the SQS and stream event-source
//! mappings, the receive front door as API Gateway REST API or Function URL, the Runtime API
//! for packaged binaries) and the partners and subscribers a deployment talks to (a TLS front,
//! a webhook receiver). A proxy in front of moto gives the functions' AWS calls a network's
//! latency and injects faults.

pub mod aws_proxy;
pub mod epix_partner;
pub mod front_door;
pub mod mapping;
pub mod moto;
pub mod reference_partner;
pub mod runner;
pub mod runtime_api;
pub mod stream;
pub mod tls_front;
pub mod webhook_receiver;
