package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsathena"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsglue"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/custody-ir/custody/shared/athena"
)

// AthenaWorkGroupName is the workgroup the case queries run in. A literal
// rather than a Ref: the emulator's CloudFormation skips AWS::Athena and
// AWS::Glue resources, and an output or policy referring to a skipped
// resource would fail the local deploy.
const AthenaWorkGroupName = "custody"

// athenaResultsDays is how long query results are kept: they are copies of
// evidence made for one question, and the evidence itself stays locked.
const athenaResultsDays = 30

// Glue's names for the JSON tables: the text input and output formats and
// the OpenX JSON SerDe, which reads a nested object declared string as its
// JSON text (requestParameters) and matches fields case-insensitively
// (https://docs.aws.amazon.com/athena/latest/ug/openx-json-serde.html).
const (
	textInputFormat  = "org.apache.hadoop.mapred.TextInputFormat"
	textOutputFormat = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
	openXJSONSerDe   = "org.openx.data.jsonserde.JsonSerDe"
)

// newAthena is the stack's half of querying a case with Athena: the Glue
// database and one table per kind of extract (shared/athena), a workgroup
// whose results go to a bucket of their own (the evidence bucket is locked
// and write-once: results do not belong in it), and a managed policy that
// lets a principal it is attached to run those queries. The tables belong
// to the stack, not the case: with partition projection a case is
// queryable the moment Seal writes its athena/ folder, and no case-time
// call (CreateTable, MSCK REPAIR) has to run or be granted.
func (s *custodyStack) newAthena(logs awss3.Bucket) awsiam.ManagedPolicy {
	stack := s.stack
	results := awss3.NewBucket(stack, jsii.String("AthenaResultsBucket"), &awss3.BucketProps{
		// Results are evidence read back out: the same key, so the same
		// people can read them.
		Encryption:             awss3.BucketEncryption_KMS,
		EncryptionKey:          s.key,
		BucketKeyEnabled:       jsii.Bool(true),
		BlockPublicAccess:      awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:             jsii.Bool(true),
		ObjectOwnership:        awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		ServerAccessLogsBucket: logs,
		ServerAccessLogsPrefix: jsii.String("athena-results/"),
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:                                  jsii.String("ExpireQueryResults"),
			Expiration:                          awscdk.Duration_Days(jsii.Number(athenaResultsDays)),
			AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(1)),
		}},
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})

	awsathena.NewCfnWorkGroup(stack, jsii.String("AthenaWorkGroup"), &awsathena.CfnWorkGroupProps{
		Name:        jsii.String(AthenaWorkGroupName),
		Description: jsii.String("custody: queries over a case's extracts (Glue database " + athena.Database + ")"),
		WorkGroupConfiguration: &awsathena.CfnWorkGroup_WorkGroupConfigurationProperty{
			// A client cannot send results elsewhere or unencrypted.
			EnforceWorkGroupConfiguration:   jsii.Bool(true),
			PublishCloudWatchMetricsEnabled: jsii.Bool(true),
			ResultConfiguration: &awsathena.CfnWorkGroup_ResultConfigurationProperty{
				OutputLocation: jsii.String("s3://" + *results.BucketName() + "/results/"),
				EncryptionConfiguration: &awsathena.CfnWorkGroup_EncryptionConfigurationProperty{
					EncryptionOption: jsii.String("SSE_KMS"),
					KmsKey:           s.key.KeyArn(),
				},
			},
		},
	})

	catalog := stack.Account()
	db := awsglue.NewCfnDatabase(stack, jsii.String("AthenaDatabase"), &awsglue.CfnDatabaseProps{
		CatalogId: catalog,
		DatabaseInput: &awsglue.CfnDatabase_DatabaseInputProperty{
			Name:        jsii.String(athena.Database),
			Description: jsii.String("custody: one table per kind of case extract; every query names case_id and run_id"),
		},
	})
	for _, t := range athena.Tables {
		tbl := awsglue.NewCfnTable(stack, jsii.String("AthenaTable"+t.Dir), &awsglue.CfnTableProps{
			CatalogId: catalog,
			// The name, not db.Ref(): see AthenaWorkGroupName.
			DatabaseName: jsii.String(athena.Database),
			TableInput: &awsglue.CfnTable_TableInputProperty{
				Name:          jsii.String(t.Name),
				Description:   jsii.String(t.Description),
				TableType:     jsii.String("EXTERNAL_TABLE"),
				Parameters:    tableParameters(*s.bucket.BucketName(), t.Dir),
				PartitionKeys: glueColumns(athena.Partitions),
				StorageDescriptor: &awsglue.CfnTable_StorageDescriptorProperty{
					Columns: glueColumns(t.Columns),
					// Never read as such (projection gives every partition
					// its location), but Glue requires one.
					Location:     jsii.String("s3://" + *s.bucket.BucketName() + "/cases/"),
					InputFormat:  jsii.String(textInputFormat),
					OutputFormat: jsii.String(textOutputFormat),
					SerdeInfo: &awsglue.CfnTable_SerdeInfoProperty{
						SerializationLibrary: jsii.String(openXJSONSerDe),
						// A malformed line fails the query rather than
						// vanishing from the answer.
						Parameters: map[string]any{"ignore.malformed.json": "FALSE", "case.insensitive": "TRUE"},
					},
				},
			},
		})
		tbl.Node().AddDependency(db)
	}
	return s.newAthenaQueryPolicy(results)
}

// tableParameters are a table's partition projection: case_id and run_id
// are injected (the query's WHERE gives them; case IDs are made at run time,
// so no enum or range could list them), and the template names the one
// folder of a run the table reads. Athena reads every object under a
// partition's location, hence a folder holding only this table's copies.
// https://docs.aws.amazon.com/athena/latest/ug/partition-projection-dynamic-id-partitioning.html
// https://docs.aws.amazon.com/athena/latest/ug/partition-projection-setting-up.html
func tableParameters(bucket, dir string) map[string]any {
	return map[string]any{
		// No has_encrypted_data: it marks CSE-KMS data; S3 decrypts
		// SSE-KMS objects itself and the table needs no property for it
		// (https://docs.aws.amazon.com/athena/latest/ug/creating-tables-based-on-encrypted-datasets-in-s3.html).
		// No compressionType either: the folders mix .jsonl.gz extracts and
		// the plain timeline, and Athena picks the codec by file extension.
		"classification":            "json",
		"projection.enabled":        "true",
		"projection.case_id.type":   "injected",
		"projection.run_id.type":    "injected",
		"storage.location.template": "s3://" + bucket + "/cases/${case_id}/runs/${run_id}/" + athena.Folder + "/" + dir + "/",
	}
}

func glueColumns(cols []athena.Column) *[]*awsglue.CfnTable_ColumnProperty {
	out := make([]*awsglue.CfnTable_ColumnProperty, 0, len(cols))
	for _, c := range cols {
		col := &awsglue.CfnTable_ColumnProperty{Name: jsii.String(c.ColumnName()), Type: jsii.String(c.Type)}
		if c.Comment != "" {
			col.Comment = jsii.String(c.Comment)
		}
		out = append(out, col)
	}
	return &out
}

// newAthenaQueryPolicy is what a responder needs to query cases in the
// workgroup: run queries there, read the Glue tables, read the run folders'
// objects, read and write the results bucket, and the key through S3 only
// (Decrypt of the evidence and the results, GenerateDataKey for results).
// The key policy lets IAM grant its use (AccountAdministersThroughIAM), so
// attaching this policy is enough; the stack outputs its ARN.
func (s *custodyStack) newAthenaQueryPolicy(results awss3.Bucket) awsiam.ManagedPolicy {
	stack := s.stack
	arn := func(service, resource string) *string {
		return jsii.String("arn:" + *stack.Partition() + ":" + service + ":" + *stack.Region() + ":" + *stack.Account() + ":" + resource)
	}
	glue := []*string{arn("glue", "catalog"), arn("glue", "database/"+athena.Database)}
	for _, t := range athena.Tables {
		glue = append(glue, arn("glue", "table/"+athena.Database+"/"+t.Name))
	}
	p := awsiam.NewManagedPolicy(stack, jsii.String("AthenaQueryPolicy"), &awsiam.ManagedPolicyProps{
		Description: jsii.String("custody: query a case's extracts with Athena in the custody workgroup (attach to a responder)"),
		Statements: &[]awsiam.PolicyStatement{
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid: jsii.String("RunQueriesInTheCustodyWorkGroup"),
				Actions: jsii.Strings("athena:StartQueryExecution", "athena:StopQueryExecution", "athena:GetQueryExecution",
					"athena:GetQueryResults", "athena:GetQueryResultsStream", "athena:ListQueryExecutions", "athena:GetWorkGroup"),
				Resources: &[]*string{arn("athena", "workgroup/"+AthenaWorkGroupName)},
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("ReadTheCustodyTables"),
				Actions:   jsii.Strings("glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartitions"),
				Resources: &glue,
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("ReadTheCases"),
				Actions:   jsii.Strings("s3:GetObject"),
				Resources: &[]*string{s.bucket.ArnForObjects(jsii.String(casesPrefix + "*"))},
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:        jsii.String("ListTheCases"),
				Actions:    jsii.Strings("s3:ListBucket", "s3:GetBucketLocation"),
				Resources:  &[]*string{s.bucket.BucketArn()},
				Conditions: &map[string]any{"StringLike": map[string]any{"s3:prefix": casesPrefix + "*"}},
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid: jsii.String("ReadAndWriteQueryResults"),
				Actions: jsii.Strings("s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts",
					"s3:ListBucket", "s3:ListBucketMultipartUploads", "s3:GetBucketLocation"),
				Resources: &[]*string{results.BucketArn(), results.ArnForObjects(jsii.String("results/*"))},
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:        jsii.String("UseTheKeyThroughS3"),
				Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"),
				Resources:  &[]*string{s.key.KeyArn()},
				Conditions: &map[string]any{"StringEquals": map[string]any{"kms:ViaService": "s3." + *stack.Region() + ".amazonaws.com"}},
			}),
		},
	})
	cdknag.NagSuppressions_AddResourceSuppressions(p, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("The Athena query policy reads the evidence bucket's cases/* (every case: case IDs are made at run time, and Athena reads a run's athena/<table>/ folder) " +
			"and reads and writes the results bucket's results/* (Athena names each query's result object)."),
		AppliesTo: &[]any{
			objectWildcard(casesPrefix),
			&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::<AthenaResultsBucket[0-9A-F]{8}\.Arn>\/results\/\*$/g`)},
		},
	}}, jsii.Bool(true))
	return p
}
