package readiness

// The checks, in the order a report lists them. Prowler IDs are those of
// Prowler's AWS provider (prowler/providers/aws/services/<service>/<check>).
var (
	CheckTrail = Check{
		ID: "cloudtrail.trail", Prowler: "cloudtrail_multi_region_enabled",
		Title:  "a multi-region or organization trail is logging in the region",
		Lacks:  "the CloudTrail log files of the window: a case falls back to LookupEvents (management events only, 90 days, 2 requests/s) and has no data events",
		FixCLI: "aws cloudtrail create-trail --name custody-trail --s3-bucket-name <bucket> --is-multi-region-trail --enable-log-file-validation && aws cloudtrail start-logging --name custody-trail",
		FixCDK: "awscloudtrail.NewTrail(stack, jsii.String(\"Trail\"), &awscloudtrail.TrailProps{IsMultiRegionTrail: jsii.Bool(true), EnableFileValidation: jsii.Bool(true)})",
	}
	CheckManagementEvents = Check{
		ID: "cloudtrail.managementEvents", Prowler: "cloudtrail_multi_region_enabled_logging_management_events",
		Title:  "the trail records management events, read and write",
		Lacks:  "the API calls of the principals in scope (who created the key, ran the instance, changed the policy)",
		FixCLI: "aws cloudtrail put-event-selectors --trail-name <trail> --event-selectors '[{\"ReadWriteType\":\"All\",\"IncludeManagementEvents\":true}]'",
		FixCDK: "awscloudtrail.TrailProps{ManagementEvents: awscloudtrail.ReadWriteType_ALL}",
	}
	CheckS3DataEvents = Check{
		ID: "cloudtrail.s3DataEvents", Prowler: "cloudtrail_s3_dataevents_read_enabled, cloudtrail_s3_dataevents_write_enabled",
		Title:  "the trail records S3 object-level data events, read and write",
		Lacks:  "who read, wrote or deleted which object (GetObject, PutObject, DeleteObject): an S3 finding's case has only the access logs, if any",
		FixCLI: "aws cloudtrail put-event-selectors --trail-name <trail> --advanced-event-selectors '[{\"Name\":\"S3 data\",\"FieldSelectors\":[{\"Field\":\"eventCategory\",\"Equals\":[\"Data\"]},{\"Field\":\"resources.type\",\"Equals\":[\"AWS::S3::Object\"]}]}]'",
		FixCDK: "trail.LogAllS3DataEvents(&awscloudtrail.AddEventSelectorOptions{ReadWriteType: awscloudtrail.ReadWriteType_ALL})",
	}
	CheckLambdaDataEvents = Check{
		ID:     "cloudtrail.lambdaDataEvents",
		Title:  "the trail records Lambda Invoke data events",
		Lacks:  "who invoked which function (Invoke): a Lambda finding's case has the function's logs but not its callers",
		FixCLI: "aws cloudtrail put-event-selectors --trail-name <trail> --advanced-event-selectors '[{\"Name\":\"Lambda data\",\"FieldSelectors\":[{\"Field\":\"eventCategory\",\"Equals\":[\"Data\"]},{\"Field\":\"resources.type\",\"Equals\":[\"AWS::Lambda::Function\"]}]}]'",
		FixCDK: "trail.LogAllLambdaDataEvents(&awscloudtrail.AddEventSelectorOptions{ReadWriteType: awscloudtrail.ReadWriteType_ALL})",
	}
	CheckTrailReadable = Check{
		ID:     "cloudtrail.logsReadable",
		Title:  "the hub can read the trail's log files (s3:GetObject, and kms:Decrypt when the trail encrypts them)",
		Lacks:  "the CloudTrail log files: the collector lists them but cannot copy or read them (a gap naming the permission)",
		FixCLI: "grant the hub's collector roles s3:GetObject on the trail bucket (its bucket policy, for a log archive account) and kms:Decrypt in the trail key's policy",
		FixCDK: "custody:logArchiveBuckets and custody:logArchiveKeys in cdk.json (the hub's roles are granted them), and the archive's bucket and key policies naming the hub",
	}
	CheckLogFileValidation = Check{
		ID: "cloudtrail.logFileValidation", Prowler: "cloudtrail_log_file_validation_enabled",
		Title:  "the trail writes signed digest files",
		Lacks:  "the digest chain: the copied CloudTrail log files cannot be shown unchanged since delivery",
		FixCLI: "aws cloudtrail update-trail --name <trail> --enable-log-file-validation",
		FixCDK: "awscloudtrail.TrailProps{EnableFileValidation: jsii.Bool(true)}",
	}
	CheckEvidenceBucket = Check{
		ID: "custody.evidenceBucket", Prowler: "s3_bucket_object_lock, s3_bucket_kms_encryption",
		Title:  "custody's evidence bucket has its Object Lock, its bucket policy and SSE-KMS (an emulator deploy drops them: only a real deployment shows them)",
		Lacks:  "the chain of custody: evidence that can be deleted, overwritten or read without the key is not evidence",
		FixCLI: "make deploy (the stack sets them); never change the bucket by hand",
		FixCDK: "the Custody stack's EvidenceBucket (infra/storage.go): ObjectLockEnabled, ObjectLockDefaultRetention, BucketEncryption_KMS, the deny policy",
	}
	CheckFlowLogs = Check{
		ID: "vpc.flowLogs", Prowler: "vpc_flow_logs_enabled",
		Title:  "every VPC has a flow log (and its format carries the fields the extract reads)",
		Lacks:  "the network records of the instance's ENIs: connections in and out, bytes, accepted or rejected",
		FixCLI: "aws ec2 create-flow-logs --resource-type VPC --resource-ids <vpc-id> --traffic-type ALL --log-destination-type s3 --log-destination arn:aws:s3:::<bucket>",
		FixCDK: "vpc.AddFlowLog(jsii.String(\"FlowLog\"), &awsec2.FlowLogOptions{TrafficType: awsec2.FlowLogTrafficType_ALL, Destination: awsec2.FlowLogDestination_ToS3(bucket, nil, nil)})",
	}
	CheckAccessLogging = Check{
		ID: "s3.accessLogging", Prowler: "s3_bucket_server_access_logging_enabled",
		Title:  "every bucket (but the log targets) has server access logging",
		Lacks:  "the bucket's access log lines: requests by anonymous and cross-account callers, and every request when no trail records S3 data events",
		FixCLI: "aws s3api put-bucket-logging --bucket <bucket> --bucket-logging-status '{\"LoggingEnabled\":{\"TargetBucket\":\"<log-bucket>\",\"TargetPrefix\":\"<bucket>/\"}}'",
		FixCDK: "awss3.BucketProps{ServerAccessLogsBucket: logBucket, ServerAccessLogsPrefix: jsii.String(\"<bucket>/\")}",
	}
	CheckLogRetention = Check{
		ID: "logs.retention", Prowler: "cloudwatch_log_group_retention_policy_specific_days_enabled",
		Title:  "every log group keeps its events at least the lookback",
		Lacks:  "the log events older than the group's retention: the start of the window",
		FixCLI: "aws logs put-retention-policy --log-group-name <group> --retention-in-days 365",
		FixCDK: "awslogs.LogGroupProps{Retention: awslogs.RetentionDays_ONE_YEAR}",
	}
	CheckGuardDuty = Check{
		ID: "guardduty.enabled", Prowler: "guardduty_is_enabled",
		Title:  "GuardDuty has an enabled detector in the region",
		Lacks:  "everything: no finding is raised in the region, so no case is opened (custody starts on GuardDuty findings)",
		FixCLI: "aws guardduty create-detector --enable --region <region>",
		FixCDK: "awsguardduty.NewCfnDetector(stack, jsii.String(\"Detector\"), &awsguardduty.CfnDetectorProps{Enable: jsii.Bool(true)})",
	}
	CheckGuardDutyAdmin = Check{
		ID: "guardduty.delegatedAdmin", Prowler: "guardduty_centrally_managed",
		Title:  "GuardDuty has a delegated administrator (organization deployment)",
		Lacks:  "the members' findings at the hub: a member's finding starts no case unless it reaches the hub's event bus",
		FixCLI: "aws guardduty enable-organization-admin-account --admin-account-id <hub-account>   (from the management account)",
		FixCDK: "(not a CDK resource: run the CLI from the organization's management account)",
	}
	CheckGuardDutyMembers = Check{
		ID: "guardduty.members", Prowler: "guardduty_centrally_managed",
		Title:  "every member account given is an enabled GuardDuty member of the hub's detector (organization deployment)",
		Lacks:  "the member's findings at the hub: a member that is not enabled under the administrator raises findings the hub never sees",
		FixCLI: "aws guardduty create-members --detector-id <hub detector> --account-details AccountId=<account>   (or auto-enable: aws guardduty update-organization-configuration --detector-id <id> --auto-enable-organization-members ALL)",
		FixCDK: "(not a CDK resource: run the CLI from the delegated administrator)",
	}
	CheckGuardDutyProtection = Check{
		ID: "guardduty.protection", Prowler: "guardduty_s3_protection_enabled, guardduty_eks_audit_log_enabled, guardduty_ec2_malware_protection_enabled, guardduty_lambda_protection_enabled, guardduty_rds_protection_enabled",
		Title:  "GuardDuty's protection plans are on (S3, EKS audit logs, malware protection, Lambda, RDS, runtime monitoring)",
		Lacks:  "the findings those plans raise: an S3 data exfiltration, a Kubernetes or Lambda network finding starts no case",
		FixCLI: "aws guardduty update-detector --detector-id <id> --features '[{\"Name\":\"S3_DATA_EVENTS\",\"Status\":\"ENABLED\"},{\"Name\":\"EKS_AUDIT_LOGS\",\"Status\":\"ENABLED\"},{\"Name\":\"EBS_MALWARE_PROTECTION\",\"Status\":\"ENABLED\"},{\"Name\":\"LAMBDA_NETWORK_LOGS\",\"Status\":\"ENABLED\"},{\"Name\":\"RDS_LOGIN_EVENTS\",\"Status\":\"ENABLED\"}]'",
		FixCDK: "awsguardduty.CfnDetectorProps{Features: &[]interface{}{&awsguardduty.CfnDetector_CFNFeatureConfigurationProperty{Name: jsii.String(\"S3_DATA_EVENTS\"), Status: jsii.String(\"ENABLED\")}, ...}}",
	}
	CheckStreams = Check{
		ID:     "dynamodb.streams",
		Title:  "the configured tables (custody:dynamodbTables) have a stream",
		Lacks:  "the item-level changes of the table in the last 24 hours (what was read is never recorded; what was changed is, only in the stream)",
		FixCLI: "aws dynamodb update-table --table-name <table> --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES",
		FixCDK: "awsdynamodb.TableProps{Stream: awsdynamodb.StreamViewType_NEW_AND_OLD_IMAGES}",
	}
	CheckInspector = Check{
		ID: "inspector.enabled", Prowler: "inspector2_is_enabled",
		Title:  "Inspector scans EC2 instances, ECR images and Lambda functions",
		Lacks:  "the vulnerabilities of the instance, image or function in scope (how it was likely entered)",
		FixCLI: "aws inspector2 enable --resource-types EC2 ECR LAMBDA",
		FixCDK: "(not a CDK resource: aws inspector2 enable, or from the delegated administrator for the organization)",
	}
	CheckMemberStack = Check{
		ID:     "custody.memberStack",
		Title:  "the custody member stack (CustodyMember) is deployed in the member account",
		Lacks:  "everything read inside the member: its instances, flow logs, buckets, log groups, tables (only the organization trail's records reach the case)",
		FixCLI: "aws cloudformation create-stack-instances --stack-set-name CustodyMember --deployment-targets Accounts=<account> --regions <region>",
		FixCDK: "cdk deploy CustodyMember (in the member account), or the StackSet of the organization deployment",
	}
)

// Checks lists every check, in report order.
var Checks = []Check{
	CheckTrail, CheckManagementEvents, CheckS3DataEvents, CheckLambdaDataEvents, CheckTrailReadable, CheckLogFileValidation,
	CheckEvidenceBucket, CheckFlowLogs, CheckAccessLogging, CheckLogRetention,
	CheckGuardDuty, CheckGuardDutyAdmin, CheckGuardDutyMembers, CheckGuardDutyProtection,
	CheckStreams, CheckInspector, CheckMemberStack,
}
