// Package trigger reads the events that ask for a rediscovery: EventBridge
// deliveries of CloudFormation "Stack Status Change" (a stack reached a
// *_COMPLETE status, deletes included) and AWS Config "Configuration Item
// Change" events, as they arrive on the trigger queue. Parse turns one
// message body into a Change or says why it cannot (the message then goes to
// the trigger queue's DLQ with that reason); Coalesce folds a burst of
// changes to one per stack or resource.
//
// `producer listen` (producer/listen.go) consumes the queue with these and
// rediscovers what changed.
package trigger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// MaxEventBytes bounds an event body: EventBridge events are at most 256 KiB.
const MaxEventBytes = 256 << 10

// Kinds of change.
const (
	KindStack    = "stack"    // a CloudFormation stack: rediscover that stack
	KindResource = "resource" // one resource AWS Config recorded: rediscover it
)

// Change is what one event asks for.
type Change struct {
	Kind    string
	Account string
	Region  string
	At      time.Time // the event's time
	// Key names what changed, for coalescing: the stack ARN, or the
	// resource's ARN (Config's resource type and id when it has none).
	Key string
	// Deleted is true when what changed is gone (DELETE_COMPLETE, a Config
	// item deleted): its rediscovery finds nothing and sweeps it.
	Deleted bool
	// Status is the stack's status, or Config's change type.
	Status string
	// ResourceType is the CloudFormation type of a Config item.
	ResourceType string
}

// Error is an event that cannot be acted on, with the reason the DLQ shows.
type Error struct{ Reason string }

func (e *Error) Error() string { return "trigger event: " + e.Reason }

func refuse(format string, args ...any) error { return &Error{Reason: fmt.Sprintf(format, args...)} }

// envelope is EventBridge's event envelope.
type envelope struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       time.Time       `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

type stackDetail struct {
	StackID       string `json:"stack-id"`
	StatusDetails struct {
		Status string `json:"status"`
	} `json:"status-details"`
}

type configDetail struct {
	MessageType           string `json:"messageType"`
	ConfigurationItemDiff *struct {
		ChangeType string `json:"changeType"`
	} `json:"configurationItemDiff"`
	ConfigurationItem *configItem `json:"configurationItem"`
	// An oversized item comes as a summary, without its configuration.
	ConfigurationItemSummary *configItem `json:"configurationItemSummary"`
}

type configItem struct {
	ResourceType string `json:"resourceType"`
	ResourceID   string `json:"resourceId"`
	ARN          string `json:"ARN"`
	Status       string `json:"configurationItemStatus"`
	ChangeType   string `json:"changeType"` // summaries carry it here
}

// Parse reads one trigger-queue message body.
func Parse(body []byte) (Change, error) {
	if len(body) > MaxEventBytes {
		return Change{}, refuse("body is %d bytes; an EventBridge event is at most %d", len(body), MaxEventBytes)
	}
	var ev envelope
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&ev); err != nil {
		return Change{}, refuse("body is not an EventBridge event: %v", err)
	}
	if ev.Version != "0" {
		return Change{}, refuse("event version %q; want \"0\"", ev.Version)
	}
	if ev.Account == "" || ev.Region == "" || ev.Time.IsZero() {
		return Change{}, refuse("event lacks account, region or time")
	}
	c := Change{Account: ev.Account, Region: ev.Region, At: ev.Time}
	switch {
	case ev.Source == "aws.cloudformation" && ev.DetailType == "CloudFormation Stack Status Change":
		var d stackDetail
		if err := json.Unmarshal(ev.Detail, &d); err != nil {
			return Change{}, refuse("stack status detail: %v", err)
		}
		if !strings.HasPrefix(d.StackID, "arn:") || !strings.Contains(d.StackID, ":stack/") {
			return Change{}, refuse("stack-id %q is not a stack ARN", d.StackID)
		}
		status := d.StatusDetails.Status
		if !strings.HasSuffix(status, "_COMPLETE") {
			// The rule lets only *_COMPLETE through; anything else means
			// the rule is not the documented one.
			return Change{}, refuse("stack status %q is not a *_COMPLETE status", status)
		}
		c.Kind, c.Key, c.Status = KindStack, d.StackID, status
		c.Deleted = status == "DELETE_COMPLETE"
		return c, nil
	case ev.Source == "aws.config" && ev.DetailType == "Config Configuration Item Change":
		var d configDetail
		if err := json.Unmarshal(ev.Detail, &d); err != nil {
			return Change{}, refuse("configuration item detail: %v", err)
		}
		item := d.ConfigurationItem
		change := ""
		switch d.MessageType {
		case "ConfigurationItemChangeNotification":
			if d.ConfigurationItemDiff != nil {
				change = d.ConfigurationItemDiff.ChangeType
			}
		case "OversizedConfigurationItemChangeNotification":
			item = d.ConfigurationItemSummary
			if item != nil {
				change = item.ChangeType
			}
		default:
			return Change{}, refuse("config messageType %q is not a configuration item change", d.MessageType)
		}
		if item == nil || item.ResourceType == "" || (item.ARN == "" && item.ResourceID == "") {
			return Change{}, refuse("config event without its item's type and ARN or id")
		}
		c.Kind, c.ResourceType, c.Status = KindResource, item.ResourceType, change
		c.Key = item.ARN
		if c.Key == "" {
			c.Key = item.ResourceType + "/" + item.ResourceID
		}
		c.Deleted = change == "DELETE" || item.Status == "ResourceDeleted" || item.Status == "ResourceDeletedNotRecorded"
		return c, nil
	}
	return Change{}, refuse("event %q from %q is not one graphfleet listens to", ev.DetailType, ev.Source)
}

// Coalesce folds changes to one per Key, the latest by At (the later of
// two equal times wins), in the order each key first appeared: a burst of
// events for one stack becomes one rediscovery.
func Coalesce(changes []Change) []Change {
	var order []string
	latest := map[string]Change{}
	for _, c := range changes {
		prev, seen := latest[c.Key]
		if !seen {
			order = append(order, c.Key)
		}
		if !seen || !c.At.Before(prev.At) {
			latest[c.Key] = c
		}
	}
	out := make([]Change, 0, len(order))
	for _, k := range order {
		out = append(out, latest[k])
	}
	return out
}

// Reason is the DLQ reason of a Parse error.
func Reason(err error) string {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Reason
	}
	return err.Error()
}
