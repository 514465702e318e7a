//! The subscription registry's records: which agency wants which events about which permits,
//! through which channel. Modelled on the ePhyto hub's forwarding to other agencies (customs,
//! NPPO), with the filters the CITES boxes offer (countries, appendix, document type, taxon).

use crate::notify::event::{EventType, PermitSummary};
use crate::notify::webhook_url::WebhookPolicy;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The kind of agency, so a customs service can ask only for what concerns customs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Customs at the border (export or import side).
    Customs,
    /// Veterinary services (live animals, animal products).
    Veterinary,
    /// Phytosanitary services (plants, plant products).
    Phytosanitary,
    /// Wildlife enforcement.
    Enforcement,
    /// The issuing Management Authority's own permit system (rejections, failed deliveries).
    ManagementAuthority,
    /// Any other agency.
    Other,
}

impl Role {
    /// Every role, for parsing and documentation.
    pub const ALL: [Role; 6] = [
        Role::Customs,
        Role::Veterinary,
        Role::Phytosanitary,
        Role::Enforcement,
        Role::ManagementAuthority,
        Role::Other,
    ];

    /// The wire form (`customs`, `management_authority`, ...), also the SNS `role` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customs => "customs",
            Role::Veterinary => "veterinary",
            Role::Phytosanitary => "phytosanitary",
            Role::Enforcement => "enforcement",
            Role::ManagementAuthority => "management_authority",
            Role::Other => "other",
        }
    }

    /// Parses the wire form.
    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text.trim())
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which permits a subscription is about. Each non-empty list must match (AND across lists);
/// within a list any value matches (OR), which is exactly how an SNS filter policy reads, so
/// the webhook channel and the SNS channel select the same events.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Filters {
    /// Issuing countries (ISO2).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub issuer: Vec<String>,
    /// Countries of export (box 4).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exporter: Vec<String>,
    /// Countries of import (box 3a).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub importer: Vec<String>,
    /// Countries of origin of any block (box 12).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub origin: Vec<String>,
    /// Appendix of any block (I, II, III).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub appendix: Vec<String>,
    /// Document type (E, R, I, O).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub document_type: Vec<String>,
    /// Taxa: a block matches when its scientific name starts with one of these (a genus
    /// `Crocodylus` matches `Crocodylus siamensis`), case-insensitively.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub taxon: Vec<String>,
    /// Alert rules (`use-second-consignment`, ...): only alerts raising one of these pass;
    /// events without rules (every other event) do not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rule: Vec<String>,
}

fn any_of(wanted: &[String], have: &[&str]) -> bool {
    wanted.is_empty()
        || wanted
            .iter()
            .any(|w| have.iter().any(|h| h.eq_ignore_ascii_case(w.trim())))
}

/// True when `name` is the taxon or a lower rank of it (`Crocodylus` covers `Crocodylus
/// siamensis`, not `Crocodylusx`).
pub fn taxon_covers(taxon: &str, name: &str) -> bool {
    let (taxon, name) = (taxon.trim(), name.trim());
    if taxon.is_empty() || name.len() < taxon.len() {
        return false;
    }
    let (head, rest) = name.split_at(taxon.len());
    head.eq_ignore_ascii_case(taxon) && (rest.is_empty() || rest.starts_with(' '))
}

impl Filters {
    /// True when the permit passes every filter. Events without a permit summary (a rejected
    /// input that could not be read beyond its number) only pass filters on the issuer.
    pub fn matches(&self, issuer: &str, summary: Option<&PermitSummary>) -> bool {
        if !any_of(&self.issuer, &[issuer]) {
            return false;
        }
        let Some(p) = summary else {
            return self.exporter.is_empty()
                && self.importer.is_empty()
                && self.origin.is_empty()
                && self.appendix.is_empty()
                && self.document_type.is_empty()
                && self.taxon.is_empty();
        };
        let origins: Vec<&str> = p.origins().collect();
        let appendices: Vec<&str> = p.appendices().collect();
        any_of(&self.exporter, &[p.exporter.as_deref().unwrap_or("")])
            && any_of(&self.importer, &[p.importer.as_deref().unwrap_or("")])
            && any_of(&self.origin, &origins)
            && any_of(&self.appendix, &appendices)
            && any_of(
                &self.document_type,
                &[p.document_type.as_deref().unwrap_or("")],
            )
            && (self.taxon.is_empty()
                || self.taxon.iter().any(|t| {
                    p.blocks
                        .iter()
                        .filter_map(|b| b.taxon.as_deref())
                        .any(|name| taxon_covers(t, name))
                }))
    }
}

/// How a subscriber is told.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Channel {
    /// An SNS subscription on the notifications topic (an SQS queue, e-mail, ...) whose filter
    /// policy is generated from the subscription ([`Subscription::filter_policy`]).
    Sns {
        /// The SNS protocol (`sqs`, `email`, `https`, ...).
        protocol: String,
        /// The endpoint (queue ARN, e-mail address, URL).
        endpoint: String,
        /// The SNS subscription ARN, once subscribed (needed to unsubscribe).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subscription_arn: Option<String>,
    },
    /// An HTTPS webhook, signed with the subscriber's secret.
    Webhook {
        /// Where to POST.
        url: String,
        /// The name of the SSM SecureString parameter holding the HMAC secret. The secret itself
        /// is never stored in the registry nor logged.
        secret_parameter: String,
    },
}

/// One agency's subscription.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    /// Stable id (letters, digits, `-`, `_`), the idempotency key's subscriber part.
    pub id: String,
    /// The agency's name.
    pub agency: String,
    /// The agency's country (ISO2).
    pub country: String,
    /// The agency's role.
    pub role: Role,
    /// The events it wants.
    pub events: Vec<EventType>,
    /// Which permits.
    #[serde(default)]
    pub filters: Filters,
    /// How it is told.
    pub channel: Channel,
    /// Whether the notification may say where the full standard XML is (the outbox key): only
    /// agencies entitled to the whole permit get it.
    #[serde(default)]
    pub include_xml: bool,
}

/// Why a subscription is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid subscription: {0}")]
pub struct InvalidSubscription(pub String);

impl Subscription {
    /// [`Subscription::check_with`] under the policy the environment sets
    /// ([`WebhookPolicy::from_env`]: production unless `ECITES_ALLOW_LOOPBACK_WEBHOOKS=1`).
    pub fn check(&self) -> Result<(), InvalidSubscription> {
        self.check_with(WebhookPolicy::from_env())
    }

    /// Checks what the registry must never hold: an unusable id, no events, a webhook URL that
    /// breaks a rule of [`crate::notify::webhook_url`] (not HTTPS, user information, an address
    /// or name inside the network). The webhook function checks the URL again at each delivery,
    /// and every address it resolves to.
    pub fn check_with(&self, policy: WebhookPolicy) -> Result<(), InvalidSubscription> {
        if self.id.is_empty()
            || self.id.len() > 64
            || !self
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(InvalidSubscription(format!(
                "id {:?} must be 1-64 letters, digits, '-' or '_'",
                self.id
            )));
        }
        if self.events.is_empty() {
            return Err(InvalidSubscription("no events".into()));
        }
        if let Channel::Webhook {
            url,
            secret_parameter,
        } = &self.channel
        {
            crate::notify::webhook_url::check_webhook_url(url, policy)
                .map_err(InvalidSubscription)?;
            if secret_parameter.trim().is_empty() {
                return Err(InvalidSubscription(
                    "a webhook needs secret_parameter".into(),
                ));
            }
        }
        Ok(())
    }

    /// True when this subscription wants this event about this permit.
    pub fn wants(&self, event: EventType, issuer: &str, summary: Option<&PermitSummary>) -> bool {
        self.events.contains(&event)
            && event.roles().contains(&self.role)
            && self.filters.matches(issuer, summary)
    }

    /// [`Subscription::wants`] for a state change, with its alert rules against the `rule`
    /// filter.
    pub fn wants_change(
        &self,
        change: &super::StateChange,
        summary: Option<&PermitSummary>,
    ) -> bool {
        self.wants(change.event, &change.issuer, summary)
            && (self.filters.rule.is_empty()
                || change
                    .rules()
                    .any(|rule| self.filters.rule.iter().any(|w| w.trim() == rule)))
    }

    /// The SNS filter policy (on message attributes) selecting the same events as
    /// [`Subscription::wants`]: `event`, `role` and every non-empty filter. Taxa become prefix
    /// matches. SNS allows at most 5 keys: more filters than that are refused.
    pub fn filter_policy(&self) -> Result<serde_json::Value, InvalidSubscription> {
        use serde_json::{json, Map, Value};
        let mut policy = Map::new();
        let strings = |v: &[String]| Value::from(v.iter().map(|s| s.trim()).collect::<Vec<_>>());
        policy.insert(
            "event".into(),
            Value::from(self.events.iter().map(|e| e.as_str()).collect::<Vec<_>>()),
        );
        policy.insert("role".into(), json!([self.role.as_str()]));
        let f = &self.filters;
        for (name, values) in [
            ("issuer", &f.issuer),
            ("exporter", &f.exporter),
            ("importer", &f.importer),
            ("origin", &f.origin),
            ("appendix", &f.appendix),
            ("document_type", &f.document_type),
            ("rule", &f.rule),
        ] {
            if !values.is_empty() {
                policy.insert(name.into(), strings(values));
            }
        }
        if !f.taxon.is_empty() {
            policy.insert(
                "taxon".into(),
                Value::from(
                    f.taxon
                        .iter()
                        .map(|t| json!({"prefix": t.trim()}))
                        .collect::<Vec<_>>(),
                ),
            );
        }
        if policy.len() > 5 {
            return Err(InvalidSubscription(format!(
                "an SNS filter policy takes at most 5 keys; this one needs {} (event, role and {} filters)",
                policy.len(),
                policy.len() - 2
            )));
        }
        Ok(Value::Object(policy))
    }
}
