//! `ecites --stack NAME`: the deployment's configuration from its CloudFormation stack instead
//! of variables copied by hand. DescribeStacks gives the stack's Outputs (infra/template.yaml);
//! each output the CLI needs becomes the `ECITES_*` variable the commands read
//! (`shared/aws/src/config.rs`), overriding the environment, and `ecites --stack NAME env`
//! prints them as `export` lines (`make env STACK=NAME`). Region and credentials are
//! aws-config's as for every command (`AWS_REGION`, `AWS_PROFILE`, ...).

/// Stack output -> environment variable, and whether a stack without it is refused. The
/// template's outputs are documented in infra/README.md ("Outputs").
pub const OUTPUTS: &[(&str, &str, bool)] = &[
    ("CountryCode", "ECITES_COUNTRY", true),
    ("BucketName", "ECITES_BUCKET", true),
    ("LedgerTableName", "ECITES_TABLE", true),
    ("PartnerDirectoryKey", "ECITES_PARTNERS_KEY", false),
    ("IngestQueueUrl", "ECITES_INGEST_QUEUE_URL", false),
    ("DeliveriesQueueUrl", "ECITES_DELIVERIES_QUEUE_URL", false),
    (
        "DeliveriesDeadLetterQueueUrl",
        "ECITES_DELIVERIES_DLQ_URL",
        false,
    ),
    ("NotificationTopicArn", "ECITES_TOPIC_ARN", false),
    (
        "NotifyFailureQueueUrl",
        "ECITES_NOTIFY_FAILURE_QUEUE_URL",
        false,
    ),
    ("WebhookQueueUrl", "ECITES_WEBHOOK_QUEUE_URL", false),
    ("SigningKeySecretName", "ECITES_SIGNING_KEY_SECRET", false),
    ("ReceiveEndpointUrl", "ECITES_RECEIVE_ENDPOINT_URL", false),
];

/// The variables a stack's outputs give, in [`OUTPUTS`] order, plus `ECITES_STACK` and
/// `AWS_REGION` (the region the stack was read in). Errors: the stack cannot be described
/// (its name and AWS's error), or a required output is missing (its name).
pub async fn environment(name: &str) -> anyhow::Result<Vec<(String, String)>> {
    let aws = ecites_aws::AwsConfig::load(ecites_aws::ClientOptions::default()).await;
    let cloudformation = aws_sdk_cloudformation::Client::new(aws.sdk_config());
    let described = cloudformation
        .describe_stacks()
        .stack_name(name)
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "--stack {name}: cloudformation:DescribeStacks in {}: {}",
                aws.region(),
                ecites_aws::errors::error_chain(&e)
            )
        })?;
    let stack = described
        .stacks()
        .first()
        .ok_or_else(|| anyhow::anyhow!("--stack {name}: no such stack in {}", aws.region()))?;
    let outputs: Vec<(&str, &str)> = stack
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?, o.output_value()?)))
        .collect();
    let mut variables = vec![
        (
            "ECITES_STACK".to_owned(),
            stack.stack_name().unwrap_or(name).to_owned(),
        ),
        ("AWS_REGION".to_owned(), aws.region().to_owned()),
    ];
    for (output, variable, required) in OUTPUTS {
        match outputs.iter().find(|(key, _)| key == output) {
            Some((_, value)) => variables.push(((*variable).to_owned(), (*value).to_owned())),
            None if *required => anyhow::bail!(
                "--stack {name}: the stack has no output {output} (for {variable}); \
                 deploy the current infra/template.yaml"
            ),
            None => {}
        }
    }
    Ok(variables)
}

/// Sets the variables in this process's environment, before any command reads it.
pub fn apply(variables: &[(String, String)]) {
    for (name, value) in variables {
        // The process is still single-threaded here (no runtime started yet).
        std::env::set_var(name, value);
    }
}

/// `name='value'` for a POSIX shell: single quotes, each `'` as `'\''`.
pub fn export_line(name: &str, value: &str) -> String {
    format!("export {name}='{}'", value.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_lines_quote_every_value_for_the_shell() {
        assert_eq!(
            export_line("ECITES_BUCKET", "ecites-1-abc"),
            "export ECITES_BUCKET='ecites-1-abc'"
        );
        assert_eq!(export_line("X", "a'b $c"), "export X='a'\\''b $c'");
    }

    #[test]
    fn every_output_mapped_is_an_output_of_the_template() {
        let template = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../infra/template.yaml"
        ))
        .unwrap();
        let outputs = &template[template.find("\nOutputs:\n").expect("an Outputs section")..];
        for (output, _, _) in OUTPUTS {
            assert!(
                outputs.contains(&format!("\n  {output}:\n")),
                "infra/template.yaml has no output {output}"
            );
        }
    }
}
