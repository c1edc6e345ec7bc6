package awsresources

import (
	"slices"
	"testing"

	"github.com/graphfleet/graphfleet/producer/awsarn"
)

func TestTaskTargetsReadsWhatTaskStatesCall(t *testing.T) {
	t.Parallel()
	a := awsarn.NewAccount("123456789012", "us-east-1")
	tests := []struct {
		name, definition string
		want             []string
	}{
		{"a function called directly, with its qualifier dropped",
			`{"States":{"A":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f:prod"}}}`,
			[]string{"arn:aws:lambda:us-east-1:123456789012:function:f"}},
		{"lambda:invoke by function name",
			`{"States":{"A":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken","Parameters":{"FunctionName":"f:live"}}}}`,
			[]string{"arn:aws:lambda:us-east-1:123456789012:function:f"}},
		{"integrations inside Parallel branches and Map item processors",
			`{"States":{"P":{"Type":"Parallel","Branches":[{"States":{
				"Q":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage","Parameters":{"QueueUrl":"https://sqs.us-east-1.amazonaws.com/123456789012/q"}},
				"M":{"Type":"Map","ItemProcessor":{"States":{
					"T":{"Type":"Task","Resource":"arn:aws:states:::dynamodb:putItem","Parameters":{"TableName":"t"}},
					"S":{"Type":"Task","Resource":"arn:aws:states:::sns:publish","Arguments":{"TopicArn":"arn:aws:sns:us-east-1:123456789012:n"}}}}}}}]}}}`,
			[]string{"arn:aws:dynamodb:us-east-1:123456789012:table/t", "arn:aws:sns:us-east-1:123456789012:n", "arn:aws:sqs:us-east-1:123456789012:q"}},
		{"values known only at run time name nothing",
			`{"States":{"A":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName.$":"$.fn"}},
				"B":{"Type":"Task","Resource":"arn:aws:states:::sns:publish","Arguments":{"TopicArn":"{% $states.input.topic %}"}}}}`,
			nil},
		{"a Pass state's data that looks like a Task is not one",
			`{"States":{"A":{"Type":"Pass","Parameters":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f"}}}}`,
			nil},
		{"an unreadable definition", `{`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := taskTargets(tt.definition, a); !slices.Equal(got, tt.want) {
				t.Errorf("taskTargets = %q; want %q", got, tt.want)
			}
		})
	}
}

func TestReferencesNameTheResource(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"arn:aws:lambda:us-east-1:1:function:f:$LATEST":                "arn:aws:lambda:us-east-1:1:function:f",
		"arn:aws:lambda:us-east-1:1:function:f":                        "arn:aws:lambda:us-east-1:1:function:f",
		"arn:aws:sqs:us-east-1:1:q":                                    "arn:aws:sqs:us-east-1:1:q",
		"arn:aws:dynamodb:us-east-1:1:table/t/stream/2026-01-01T00:00": "arn:aws:dynamodb:us-east-1:1:table/t",
	} {
		if got := eventSource(trimQualifier(in)); got != want {
			t.Errorf("%s names %s; want %s", in, got, want)
		}
	}
}
