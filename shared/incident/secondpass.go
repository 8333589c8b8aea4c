package incident

// CollectorDynamoDBFromCloudTrail is the DynamoDB collector's second pass:
// the tables the run's CloudTrail extract names, read after CloudTrail.
const CollectorDynamoDBFromCloudTrail = "dynamodb-cloudtrail"

// SecondPassFor returns the second pass a plan needs: when CloudTrail is
// collected, the DynamoDB streams of the tables its extract names (streams
// keep 24 hours, so the tables the finding names are read in the first
// pass and these right after CloudTrail).
func SecondPassFor(plan []PlanItem) []PlanItem {
	for _, p := range plan {
		if p.Collector == "cloudtrail" {
			return []PlanItem{{Collector: CollectorDynamoDBFromCloudTrail,
				Reason: "DynamoDB streams of the tables the CloudTrail extract names"}}
		}
	}
	return nil
}
