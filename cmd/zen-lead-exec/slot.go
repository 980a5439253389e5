package main

// Once per schedule slot. The record of completed slots is an annotation of the election Lease
// itself, so it is read and written by whoever holds the Lease and needs no object or RBAC of its
// own. A holder checks it after acquiring and before starting the program (every earlier holder's
// mark was written before our acquiring write, which was conditional on the version we read, so the
// mark is visible to our read); it marks its slot after the program succeeded, with a write
// conditional on a version that still shows its own tenure.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	batchclient "k8s.io/client-go/kubernetes/typed/batch/v1"
)

const (
	doneSlotsAnnotation = "zen-lead.io/exec-done-slots" // a JSON array of strings, oldest first
	doneSlotsKept       = 20
	scheduledAnnotation = "batch.kubernetes.io/cronjob-scheduled-timestamp"
)

// doneSlots reads the annotation. One that is not a JSON array of strings (edited by hand) reads as
// empty: the slot runs again rather than being skipped on a guess.
func doneSlots(annotation string) []string {
	if annotation == "" {
		return nil
	}
	var slots []string
	if err := json.Unmarshal([]byte(annotation), &slots); err != nil {
		return nil
	}
	return slots
}

func slotIsDone(annotation, slot string) bool {
	for _, done := range doneSlots(annotation) {
		if done == slot {
			return true
		}
	}
	return false
}

// withSlotDone is the annotation after slot completed: appended once (an earlier entry of it moves
// to the end), the oldest dropped beyond doneSlotsKept. Written exactly as Python's
// json.dumps(slots, separators=(",", ":")) writes it, so both wrappers leave the same bytes.
func withSlotDone(annotation, slot string) string {
	var slots []string
	for _, done := range doneSlots(annotation) {
		if done != slot {
			slots = append(slots, done)
		}
	}
	slots = append(slots, slot)
	if len(slots) > doneSlotsKept {
		slots = slots[len(slots)-doneSlotsKept:]
	}
	var b strings.Builder
	b.WriteByte('[')
	for i, s := range slots {
		if i > 0 {
			b.WriteByte(',')
		}
		writePythonJSONString(&b, s)
	}
	b.WriteByte(']')
	return b.String()
}

// writePythonJSONString writes s as Python's json module does by default (ensure_ascii): every
// character outside space..'~' escaped, as \uXXXX (surrogate pairs beyond the BMP) unless it has a
// short escape. Go's encoder would escape <, > and & instead and keep other characters as UTF-8.
func writePythonJSONString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			switch {
			case r >= ' ' && r <= '~':
				b.WriteRune(r)
			case r > 0xFFFF:
				hi, lo := utf16.EncodeRune(r)
				fmt.Fprintf(b, `\u%04x\u%04x`, hi, lo)
			default:
				fmt.Fprintf(b, `\u%04x`, r)
			}
		}
	}
	b.WriteByte('"')
}

// jobSlotError: the slot of --slot-from-job cannot be known (exit 2).
type jobSlotError struct{ msg string }

func (e *jobSlotError) Error() string { return e.msg }

// slotOfJob reads the schedule slot the CronJob controller stamped on Job job. An answer of the
// apiserver that refuses (not found, forbidden) is a jobSlotError; anything else (no answer) is
// returned as is, for the caller to try again.
func slotOfJob(ctx context.Context, jobs batchclient.BatchV1Interface, namespace, job string) (string, error) {
	found, err := jobs.Jobs(namespace).Get(ctx, job, metav1.GetOptions{})
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return "", &jobSlotError{fmt.Sprintf("--slot-from-job %s: cannot read Job %s/%s: %s",
			job, namespace, job, status.Status().Message)}
	}
	if err != nil {
		return "", err
	}
	slot := found.Annotations[scheduledAnnotation]
	if slot == "" {
		return "", &jobSlotError{fmt.Sprintf("--slot-from-job %s: Job %s/%s has no annotation %s (it was not "+
			"created by a CronJob: use --slot VALUE to name the slot)", job, namespace, job, scheduledAnnotation)}
	}
	return slot, nil
}

// slotDone reads the Lease: is slot among the done ones?
func slotDone(t *Tenure, slot string) (bool, error) {
	current, err := t.e.get(context.Background(), t.left())
	if err != nil || current == nil {
		return false, err
	}
	return slotIsDone(current.Annotations[doneSlotsAnnotation], slot), nil
}

// markSlot records slot as done while the Lease still shows t's tenure. False (and no error) when it
// does not any more: the next holder runs the slot again (at least once, fenced by the token).
func markSlot(t *Tenure, slot string) (bool, error) {
	t.writeMu.Lock() // not concurrently with a renewal of ours: they would only conflict
	defer t.writeMu.Unlock()
	e := t.e
	for t.Valid() {
		current, err := e.get(context.Background(), t.left())
		if err != nil {
			return false, err
		}
		if current == nil || !stillOurs(recordOf(current), e.identity, t.Token) {
			return false, nil
		}
		lease := current.DeepCopy()
		if lease.Annotations == nil {
			lease.Annotations = map[string]string{}
		}
		lease.Annotations[doneSlotsAnnotation] = withSlotDone(lease.Annotations[doneSlotsAnnotation], slot)
		written, err := e.update(context.Background(), lease, t.left())
		if apierrors.IsConflict(err) {
			continue // the Lease moved (someone edited it): read again
		}
		if err != nil {
			return false, err
		}
		t.adopt(written)
		return true, nil
	}
	return false, nil
}
