package collect_test

import (
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/custody-ir/custody/shared/collect"
)

func TestRequest(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want map[string]any
	}{
		{name: "set members only, by their API names",
			in:   &ec2.DescribeInstancesInput{InstanceIds: []string{"i-1"}, Filters: []ec2types.Filter{}},
			want: map[string]any{"InstanceIds": []any{"i-1"}}},
		{name: "nested unset members dropped",
			in:   &ec2.DescribeVolumesInput{Filters: []ec2types.Filter{{Name: aws.String("attachment.instance-id"), Values: []string{"i-1"}}}},
			want: map[string]any{"Filters": []any{map[string]any{"Name": "attachment.instance-id", "Values": []any{"i-1"}}}}},
		{name: "nothing set", in: &ec2.DescribeInstancesInput{}, want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := collect.Request(tc.in); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}
