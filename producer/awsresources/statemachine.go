package awsresources

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/graphfleet/graphfleet/producer/awsarn"
)

// taskTargets returns the ARNs a state machine definition (Amazon States
// Language) calls from its Task states, sorted and without repeats:
//   - a Resource that is itself an ARN (a Lambda function, an activity);
//   - for an optimised integration ("arn:aws:states:::lambda:invoke",
//     "sqs:sendMessage", ...) the resource its static Parameters (or JSONata
//     Arguments) name: FunctionName, QueueUrl, TopicArn, TableName,
//     StateMachineArn, TaskDefinition or Cluster.
//
// Values computed at run time ("FunctionName.$", "{% ... %}") name nothing
// before then and are left out. The walk covers every nested States block
// (Parallel branches, Map item processors) by visiting every object that is
// a Task state, wherever it is.
func taskTargets(definition string, acct awsarn.Account) []string {
	var doc any
	if json.Unmarshal([]byte(definition), &doc) != nil {
		return nil
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if v["Type"] == "Task" {
				out = append(out, taskState(v, acct)...)
			}
			for k, child := range v {
				if k != "Parameters" && k != "Arguments" { // data, not states
					walk(child)
				}
			}
		case []any:
			for _, child := range v {
				walk(child)
			}
		}
	}
	walk(doc)
	slices.Sort(out)
	return slices.Compact(out)
}

// taskState returns what one Task state calls.
func taskState(state map[string]any, acct awsarn.Account) []string {
	resource, _ := state["Resource"].(string)
	service, region, _, rest, ok := awsarn.Parse(resource)
	if !ok {
		return nil
	}
	if !(service == "states" && region == "") {
		return []string{trimQualifier(resource)} // a function or activity called directly
	}
	params, _ := state["Parameters"].(map[string]any)
	if params == nil {
		params, _ = state["Arguments"].(map[string]any)
	}
	static := func(key string) string {
		s, _ := params[key].(string)
		if strings.HasPrefix(s, "{%") {
			return "" // JSONata, evaluated at run time
		}
		return s
	}
	integration, _, _ := strings.Cut(rest, ":") // "lambda:invoke.waitForTaskToken" → "lambda"
	var out []string
	switch integration {
	case "lambda":
		if fn := functionARN(static("FunctionName"), acct); fn != "" {
			out = append(out, fn)
		}
	case "sqs":
		if arn, err := awsarn.QueueARN(acct.Partition, static("QueueUrl")); err == nil {
			out = append(out, arn)
		}
	case "sns":
		out = append(out, static("TopicArn"))
	case "dynamodb":
		if t := static("TableName"); awsarn.IsARN(t) {
			out = append(out, t)
		} else if t != "" {
			out = append(out, acct.Regional("dynamodb", "table/"+t))
		}
	case "states":
		out = append(out, static("StateMachineArn"))
	case "ecs":
		out = append(out, static("TaskDefinition"), static("Cluster"))
	}
	return slices.DeleteFunc(out, func(s string) bool { return !awsarn.IsARN(s) })
}

// functionARN is the function FunctionName names: a name, a name with a
// qualifier, or an ARN (qualified or not). A partial ARN
// ("<account>:function:<name>") is left out rather than guessed at.
func functionARN(name string, acct awsarn.Account) string {
	switch {
	case name == "":
		return ""
	case awsarn.IsARN(name):
		return trimQualifier(name)
	case strings.Contains(name, ":function:"):
		return ""
	}
	name, _, _ = strings.Cut(name, ":")
	return acct.Regional("lambda", "function:"+name)
}
