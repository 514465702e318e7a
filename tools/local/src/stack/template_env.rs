//! The environment infra/template.yaml gives each function, resolved against a local stack.
//!
//! The smoke test and the function bench start the packaged binaries with exactly this
//! environment, so a variable the template forgets (or names wrongly) fails here, on this
//! machine, instead of at the first deployment.
//!
//! Only the forms the template uses for environment values are understood: plain scalars,
//! `!Ref`, `!GetAtt` and `!Sub` with `${...}` references. Anything else is an error naming the
//! function and the variable.

use anyhow::{anyhow, bail, Context as _};
use serde_yaml::value::TaggedValue;
use serde_yaml::{Mapping, Value};
use std::collections::BTreeMap;

/// An environment value as the template writes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvValue {
    /// A plain string (numbers and booleans are kept in their YAML spelling).
    Literal(String),
    /// `!Ref Name`: a parameter or a resource.
    Ref(String),
    /// `!GetAtt Name.Attribute`.
    GetAtt(String, String),
    /// `!Sub "...${Name}..."`.
    Sub(String),
}

/// One function of the template.
#[derive(Clone, Debug)]
pub struct TemplateFunction {
    /// The logical id (e.g. `IngestFunction`).
    pub logical_id: String,
    /// The cargo binary it is built from (`Metadata.BuildProperties.Binary`).
    pub binary: String,
    /// Globals and the function's own variables, the function's winning.
    pub environment: BTreeMap<String, EnvValue>,
    /// `MemorySize` in MB (the function's, else the Globals', else Lambda's default 128).
    pub memory_mb: u32,
}

/// The parsed template: its functions and the parameters' defaults.
#[derive(Clone, Debug)]
pub struct Template {
    /// Every `AWS::Serverless::Function` built with cargo-lambda.
    pub functions: Vec<TemplateFunction>,
    /// Parameter defaults, for references the local stack does not override.
    pub parameter_defaults: BTreeMap<String, String>,
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

fn get<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |value, key| value.get(*key))
}

fn env_value(value: &Value) -> anyhow::Result<EnvValue> {
    if let Some(text) = scalar(value) {
        return Ok(EnvValue::Literal(text));
    }
    let Value::Tagged(tagged) = value else {
        bail!("not a scalar or an intrinsic function: {value:?}");
    };
    let TaggedValue { tag, value } = tagged.as_ref();
    let argument = scalar(value).ok_or_else(|| anyhow!("{tag} with a non-scalar argument"))?;
    match tag.to_string().trim_start_matches('!') {
        "Ref" => Ok(EnvValue::Ref(argument)),
        "GetAtt" => {
            let (name, attribute) = argument
                .split_once('.')
                .ok_or_else(|| anyhow!("!GetAtt {argument} has no attribute"))?;
            Ok(EnvValue::GetAtt(name.to_owned(), attribute.to_owned()))
        }
        "Sub" => Ok(EnvValue::Sub(argument)),
        other => bail!("!{other} is not supported in environment values"),
    }
}

fn variables(value: Option<&Value>) -> anyhow::Result<BTreeMap<String, EnvValue>> {
    let Some(Value::Mapping(mapping)) = value else {
        return Ok(BTreeMap::new());
    };
    mapping
        .iter()
        .map(|(name, value)| {
            let name = scalar(name).ok_or_else(|| anyhow!("a variable name is not a string"))?;
            let value = env_value(value).with_context(|| format!("variable {name}"))?;
            Ok((name, value))
        })
        .collect()
}

impl Template {
    /// Parses the template text.
    pub fn parse(text: &str) -> anyhow::Result<Template> {
        let root: Value = serde_yaml::from_str(text).context("infra/template.yaml is not YAML")?;
        let globals = variables(get(
            &root,
            &["Globals", "Function", "Environment", "Variables"],
        ))
        .context("Globals.Function.Environment")?;
        let global_memory =
            get(&root, &["Globals", "Function", "MemorySize"]).and_then(Value::as_u64);
        let empty = Mapping::new();
        let resources = root
            .get("Resources")
            .and_then(Value::as_mapping)
            .unwrap_or(&empty);
        let mut functions = Vec::new();
        for (id, resource) in resources {
            let Some(logical_id) = scalar(id) else {
                continue;
            };
            if resource.get("Type").and_then(Value::as_str) != Some("AWS::Serverless::Function") {
                continue;
            }
            let binary = get(resource, &["Metadata", "BuildProperties", "Binary"])
                .and_then(scalar)
                .ok_or_else(|| {
                    anyhow!("{logical_id}: no Metadata.BuildProperties.Binary (cargo-lambda)")
                })?;
            let mut environment = globals.clone();
            environment.extend(
                variables(get(resource, &["Properties", "Environment", "Variables"]))
                    .with_context(|| format!("{logical_id}.Properties.Environment"))?,
            );
            let memory_mb = get(resource, &["Properties", "MemorySize"])
                .and_then(Value::as_u64)
                .or(global_memory)
                .and_then(|mb| u32::try_from(mb).ok())
                .unwrap_or(128);
            functions.push(TemplateFunction {
                logical_id,
                binary,
                environment,
                memory_mb,
            });
        }
        let parameter_defaults = root
            .get("Parameters")
            .and_then(Value::as_mapping)
            .unwrap_or(&empty)
            .iter()
            .filter_map(|(name, parameter)| {
                Some((scalar(name)?, scalar(parameter.get("Default")?)?))
            })
            .collect();
        Ok(Template {
            functions,
            parameter_defaults,
        })
    }

    /// The function built from `binary`.
    pub fn function(&self, binary: &str) -> Option<&TemplateFunction> {
        self.functions.iter().find(|f| f.binary == binary)
    }
}

/// What the template's references stand for on a local stack.
#[derive(Clone, Debug, Default)]
pub struct Resolver {
    /// `!Ref Name` -> value (resources, and parameters the stack sets).
    pub refs: BTreeMap<String, String>,
    /// `!GetAtt Name.Attribute` -> value, keyed `Name.Attribute`.
    pub attributes: BTreeMap<String, String>,
}

impl Resolver {
    /// Sets `!Ref name`.
    pub fn with_ref(mut self, name: &str, value: impl Into<String>) -> Self {
        self.refs.insert(name.to_owned(), value.into());
        self
    }

    /// Sets `!GetAtt name.attribute`.
    pub fn with_attribute(mut self, name: &str, attribute: &str, value: impl Into<String>) -> Self {
        self.attributes
            .insert(format!("{name}.{attribute}"), value.into());
        self
    }

    fn reference(&self, template: &Template, name: &str) -> anyhow::Result<String> {
        match name {
            "AWS::Region" => return Ok(crate::REGION.to_owned()),
            "AWS::AccountId" => return Ok("123456789012".to_owned()),
            "AWS::StackName" => return Ok("ecites-local".to_owned()),
            "AWS::Partition" => return Ok("aws".to_owned()),
            _ => {}
        }
        if let Some((resource, attribute)) = name.split_once('.') {
            return self.attribute(resource, attribute);
        }
        self.refs
            .get(name)
            .or_else(|| template.parameter_defaults.get(name))
            .cloned()
            .ok_or_else(|| anyhow!("!Ref {name}: the local stack has no such resource"))
    }

    fn attribute(&self, name: &str, attribute: &str) -> anyhow::Result<String> {
        self.attributes
            .get(&format!("{name}.{attribute}"))
            .cloned()
            .ok_or_else(|| anyhow!("!GetAtt {name}.{attribute}: the local stack has no such value"))
    }

    /// One value.
    pub fn resolve(&self, template: &Template, value: &EnvValue) -> anyhow::Result<String> {
        match value {
            EnvValue::Literal(text) => Ok(text.clone()),
            EnvValue::Ref(name) => self.reference(template, name),
            EnvValue::GetAtt(name, attribute) => self.attribute(name, attribute),
            EnvValue::Sub(pattern) => {
                let mut out = String::new();
                let mut rest = pattern.as_str();
                while let Some(start) = rest.find("${") {
                    out.push_str(&rest[..start]);
                    let end = rest[start..]
                        .find('}')
                        .ok_or_else(|| anyhow!("!Sub {pattern:?}: unclosed ${{"))?;
                    let name = &rest[start + 2..start + end];
                    out.push_str(&self.reference(template, name)?);
                    rest = &rest[start + end + 1..];
                }
                out.push_str(rest);
                Ok(out)
            }
        }
    }

    /// The whole environment of `binary`, every failure named by function and variable.
    pub fn environment(
        &self,
        template: &Template,
        binary: &str,
    ) -> anyhow::Result<Vec<(String, String)>> {
        let function = template
            .function(binary)
            .ok_or_else(|| anyhow!("infra/template.yaml has no function built from {binary}"))?;
        function
            .environment
            .iter()
            .map(|(name, value)| {
                let resolved = self.resolve(template, value).with_context(|| {
                    format!("{} ({binary}): variable {name}", function.logical_id)
                })?;
                Ok((name.clone(), resolved))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
Parameters:
  CountryCode:
    Type: String
  PartnerDirectoryKey:
    Type: String
    Default: config/partners.json
Globals:
  Function:
    Environment:
      Variables:
        ECITES_COUNTRY: !Ref CountryCode
        RUST_LOG: info
Resources:
  Queue:
    Type: AWS::SQS::Queue
  IngestFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: rust-cargolambda
      BuildProperties:
        Binary: ingest
    Properties:
      Environment:
        Variables:
          ECITES_QUEUE: !Ref Queue
          ECITES_QUEUE_ARN: !GetAtt Queue.Arn
          ECITES_PARTNERS_KEY: !Ref PartnerDirectoryKey
          ECITES_NAME: !Sub "${AWS::Region}/${Queue}"
          RUST_LOG: debug
"#;

    #[test]
    fn globals_and_function_variables_merge_and_resolve_with_parameter_defaults() {
        let template = Template::parse(TEMPLATE).unwrap();
        let resolver = Resolver::default()
            .with_ref("CountryCode", "XA")
            .with_ref("Queue", "http://q")
            .with_attribute("Queue", "Arn", "arn:q");
        let env: BTreeMap<_, _> = resolver
            .environment(&template, "ingest")
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(env["ECITES_COUNTRY"], "XA");
        assert_eq!(env["ECITES_QUEUE"], "http://q");
        assert_eq!(env["ECITES_QUEUE_ARN"], "arn:q");
        assert_eq!(env["ECITES_PARTNERS_KEY"], "config/partners.json");
        assert_eq!(env["ECITES_NAME"], "us-east-1/http://q");
        assert_eq!(env["RUST_LOG"], "debug", "the function's own value wins");
    }

    #[test]
    fn an_unknown_reference_names_the_function_and_the_variable() {
        let template = Template::parse(TEMPLATE).unwrap();
        let error = Resolver::default()
            .with_ref("CountryCode", "XA")
            .environment(&template, "ingest")
            .unwrap_err();
        let text = format!("{error:#}");
        assert!(
            text.contains("IngestFunction (ingest): variable ECITES_NAME"),
            "{text}"
        );
        assert!(text.contains("!Ref Queue"), "{text}");
    }

    /// A file of the repository (`path` from its root), as operators and the tools read it.
    fn repository_file(path: &str) -> String {
        let full = crate::emulation::moto::repo_root().join(path);
        std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
    }

    /// Issue #18: transient delivery failures are retried for at least a day before the DLQ,
    /// even when every delay draws the shortest jitter (half the nominal delay).
    #[test]
    fn the_template_retries_a_delivery_for_at_least_a_day_before_the_dlq() {
        let root: Value = serde_yaml::from_str(&repository_file("infra/template.yaml")).unwrap();
        let receives = get(
            &root,
            &[
                "Resources",
                "DeliveriesQueue",
                "Properties",
                "RedrivePolicy",
                "maxReceiveCount",
            ],
        )
        .and_then(Value::as_u64)
        .expect("the deliveries queue's maxReceiveCount");
        let policy = ecites_exchange::retry::RetryPolicy {
            max_receives: u32::try_from(receives).unwrap(),
            base: ecites_aws::config::DEFAULT_RETRY_BASE,
            cap: ecites_aws::config::DEFAULT_RETRY_CAP,
        };
        // The delay after receive n is base * 2^(n-1) capped, times a jitter in [1/2, 1]; the
        // last receive records FAILED and goes to the DLQ, so receives - 1 delays.
        let nominal: std::time::Duration = (1..policy.max_receives)
            .map(|n| {
                policy
                    .base
                    .saturating_mul(1u32 << (n - 1).min(20))
                    .min(policy.cap)
            })
            .sum();
        let shortest = nominal / 2;
        assert!(
            shortest >= std::time::Duration::from_secs(24 * 3600),
            "{receives} receives retry for at least {shortest:?}, less than a day"
        );
        assert!(
            policy.cap <= std::time::Duration::from_secs(12 * 3600),
            "SQS's limit"
        );
    }

    /// `make deploy` (scripts/deploy.sh) refuses a parameters file that leaves out a parameter
    /// the template declares, so infra/parameters.example, which operators copy, sets every
    /// one, with its template default (empty for the required ones), as its header says.
    #[test]
    fn the_parameters_example_sets_every_template_parameter_to_its_default() {
        let template: Value =
            serde_yaml::from_str(&repository_file("infra/template.yaml")).unwrap();
        let declared: BTreeMap<String, String> = template["Parameters"]
            .as_mapping()
            .expect("a Parameters section")
            .iter()
            .map(|(name, parameter)| {
                let default = parameter.get("Default").and_then(scalar);
                (scalar(name).unwrap(), default.unwrap_or_default())
            })
            .collect();
        let example = repository_file("infra/parameters.example");
        let mut given = BTreeMap::new();
        // As scripts/deploy.sh reads it: blank and `#` lines skipped, Name=value.
        for line in example.lines() {
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let (name, value) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("not Name=value: {line}"));
            assert!(
                given.insert(name.to_owned(), value.to_owned()).is_none(),
                "infra/parameters.example gives {name} twice"
            );
        }
        let missing: Vec<&String> = declared
            .keys()
            .filter(|n| !given.contains_key(*n))
            .collect();
        assert!(
            missing.is_empty(),
            "infra/parameters.example does not set {missing:?}: make deploy refuses it"
        );
        for (name, value) in &given {
            let default = declared.get(name).unwrap_or_else(|| {
                panic!("infra/parameters.example sets {name}, not a parameter of the template")
            });
            assert_eq!(
                value, default,
                "{name}: the example's value is not the template's default"
            );
        }
    }

    #[test]
    fn the_repository_template_names_a_binary_for_every_function() {
        let template = Template::parse(&repository_file("infra/template.yaml")).unwrap();
        let binaries: Vec<&str> = template
            .functions
            .iter()
            .map(|f| f.binary.as_str())
            .collect();
        for binary in ["ingest", "forward", "receive", "notify"] {
            assert!(
                binaries.contains(&binary),
                "{binary} missing from {binaries:?}"
            );
        }
        assert!(template
            .functions
            .iter()
            .all(|f| f.environment.contains_key("ECITES_COUNTRY")));
    }
}
