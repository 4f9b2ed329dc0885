import { Duration, RemovalPolicy } from "aws-cdk-lib";
import * as s3 from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";

/** Key prefix of scratch objects that the lifecycle rule expires. */
export const TEMPORARY_PREFIX = "tmp/";

export interface StorageBucketProps {
  /** Days after which objects under `tmp/` expire. @default 7 */
  readonly temporaryObjectDays?: number;
  /** Days after which superseded object versions expire. @default 30 */
  readonly noncurrentVersionDays?: number;
  /** Whether `cdk destroy` deletes the bucket. @default RETAIN, because runs hold trained checkpoints */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The bucket that contains experiments, run manifests, shards, teacher scores,
 * checkpoints and reports (the storage layout of the local root, on S3).
 *
 * @example
 * const storage = new StorageBucket(this, "Storage");
 * storage.bucket.grantRead(fn, "runs/*");
 */
export class StorageBucket extends Construct {
  readonly bucket: s3.Bucket;
  /** Bucket for the server access logs of `bucket`. */
  readonly accessLogBucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: StorageBucketProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    this.accessLogBucket = new s3.Bucket(this, "AccessLogs", {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ id: "expire-access-logs", expiration: Duration.days(90) }],
      removalPolicy,
    });

    this.bucket = new s3.Bucket(this, "Bucket", {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      // The trigger deduplicates on the object's version id, so versions must exist.
      versioned: true,
      eventBridgeEnabled: true,
      serverAccessLogsBucket: this.accessLogBucket,
      serverAccessLogsPrefix: "storage/",
      lifecycleRules: [
        {
          id: "expire-temporary-objects",
          prefix: TEMPORARY_PREFIX,
          expiration: Duration.days(props.temporaryObjectDays ?? 7),
        },
        {
          id: "abort-incomplete-multipart-uploads",
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
        {
          id: "expire-noncurrent-versions",
          noncurrentVersionExpiration: Duration.days(props.noncurrentVersionDays ?? 30),
        },
      ],
      removalPolicy,
    });
  }
}
