//! Creating the storage an environment needs, with the same shapes as the SAM template: used
//! against the local emulator (tests, local stack), never needed on AWS where the template
//! creates them.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};

use super::aws_error;
use crate::store::StoreError;

/// Creates a bucket in the client's region (outside us-east-1, S3 wants the location named).
pub async fn create_bucket(client: &aws_sdk_s3::Client, name: &str) -> Result<(), StoreError> {
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
    request
        .send()
        .await
        .map_err(|e| aws_error("S3.CreateBucket", e))?;
    Ok(())
}

/// Creates the state table: string keys `pk` (hash) and `sk` (range), on demand.
pub async fn create_state_table(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
) -> Result<(), StoreError> {
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
    let invalid = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Aws {
        operation: "DynamoDB.CreateTable",
        message: e.to_string(),
    };
    client
        .create_table()
        .table_name(name)
        .attribute_definitions(attribute("pk").map_err(invalid)?)
        .attribute_definitions(attribute("sk").map_err(invalid)?)
        .key_schema(key("pk", KeyType::Hash).map_err(invalid)?)
        .key_schema(key("sk", KeyType::Range).map_err(invalid)?)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .map_err(|e| aws_error("DynamoDB.CreateTable", e))?;
    Ok(())
}
