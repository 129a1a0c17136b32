package target

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// eventsFor lists the events about one object, oldest first. Events are
// how the provisioner, attacher and resizer say why something is stuck.
func (t *Target) eventsFor(ctx context.Context, ns, kind, name string) ([]corev1.Event, error) {
	sel := fields.Set{"involvedObject.kind": kind, "involvedObject.name": name}.AsSelector().String()
	list, err := t.Kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		return nil, err
	}
	// Filter again: not every client (the fake one) honours field selectors.
	var out []corev1.Event
	for _, e := range list.Items {
		if e.InvolvedObject.Kind == kind && e.InvolvedObject.Name == name {
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b corev1.Event) int { return eventTime(a).Compare(eventTime(b)) })
	return out, nil
}

func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

// lastEvent is a wait-state suffix with the newest event about an object.
func (t *Target) lastEvent(ctx context.Context, ns, kind, name string) string {
	events, err := t.eventsFor(ctx, ns, kind, name)
	if err != nil || len(events) == 0 {
		return ""
	}
	e := events[len(events)-1]
	out := fmt.Sprintf("; last event: %s %s: %s", e.Type, e.Reason, oneLine(e.Message))
	// A Normal "waiting" event says nothing of why: the last Warning does.
	for i := len(events) - 1; i >= 0; i-- {
		if w := events[i]; w.Type == corev1.EventTypeWarning {
			if i != len(events)-1 {
				out += fmt.Sprintf("; last warning: %s: %s", w.Reason, oneLine(w.Message))
			}
			break
		}
	}
	return out
}
