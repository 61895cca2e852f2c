//! The moto emulator: SDK configuration, and buckets and tables shaped like the SAM template's
//! (on AWS the template creates them; here the tests and the local stack do).

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};

/// SDK configuration for the emulator at `endpoint`, with the production retry policy.
pub async fn config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("eu-west-3"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .retry_config(
            aws_config::retry::RetryConfig::standard()
                .with_max_attempts(medistock_aws::MAX_ATTEMPTS),
        )
        .load()
        .await
}

/// A new bucket.
pub async fn bucket(config: &aws_config::SdkConfig, name: &str) -> aws_sdk_s3::Client {
    let client = medistock_aws::s3_client(config);
    create_bucket(&client, name).await.expect("create bucket");
    client
}

/// Turns versioning on, as on the deployed inbox bucket.
pub async fn enable_versioning(client: &aws_sdk_s3::Client, bucket: &str) {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    client
        .put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .expect("enable versioning");
}

/// A new table with the single-table key schema (pk, sk).
pub async fn table(config: &aws_config::SdkConfig, name: &str) -> aws_sdk_dynamodb::Client {
    let client = aws_sdk_dynamodb::Client::new(config);
    create_state_table(&client, name)
        .await
        .expect("create table");
    client
}

/// Creates a bucket in the client's region (outside us-east-1, S3 wants the location named).
pub async fn create_bucket(client: &aws_sdk_s3::Client, name: &str) -> Result<(), String> {
    let mut request = client.create_bucket().bucket(name);
    if let Some(region) = client
        .config()
        .region()
        .map(|r| r.as_ref().to_owned())
        .filter(|r| r != "us-east-1")
    {
        let location = CreateBucketConfiguration::builder()
            .location_constraint(BucketLocationConstraint::from(region.as_str()))
            .build();
        request = request.create_bucket_configuration(location);
    }
    request.send().await.map_err(|e| {
        format!(
            "S3.CreateBucket : {}",
            aws_sdk_s3::error::DisplayErrorContext(e)
        )
    })?;
    Ok(())
}

/// Creates the state table: string keys `pk` (hash) and `sk` (range), on demand, with the
/// sparse index of held SMS.
pub async fn create_state_table(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
) -> Result<(), String> {
    let attribute = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
    };
    let key = |n: &str, t| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
    };
    let invalid = |e: aws_sdk_dynamodb::error::BuildError| e.to_string();
    client
        .create_table()
        .table_name(name)
        .attribute_definitions(attribute("pk").map_err(invalid)?)
        .attribute_definitions(attribute("sk").map_err(invalid)?)
        .key_schema(key("pk", KeyType::Hash).map_err(invalid)?)
        .key_schema(key("sk", KeyType::Range).map_err(invalid)?)
        // The sparse index of held SMS, as the template declares it.
        .attribute_definitions(attribute(medistock_aws::keys::HELD_PK).map_err(invalid)?)
        .attribute_definitions(attribute(medistock_aws::keys::HELD_AT).map_err(invalid)?)
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(medistock_aws::keys::HELD_INDEX)
                .key_schema(key(medistock_aws::keys::HELD_PK, KeyType::Hash).map_err(invalid)?)
                .key_schema(key(medistock_aws::keys::HELD_AT, KeyType::Range).map_err(invalid)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(invalid)?,
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .map_err(|e| {
            format!(
                "DynamoDB.CreateTable : {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(e)
            )
        })?;
    Ok(())
}
