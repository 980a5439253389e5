package main

// The wrapper's own log lines.

import (
	"fmt"
	"os"
	"time"
)

// Every line of ours goes to stderr with the prefix the Python command uses, written by one
// goroutine from a queue: a stderr nobody reads (a full pipe) must never hold up the wrapper, least of
// all between a loss of leadership and the SIGTERM or SIGKILL of the child. Lines beyond the queue
// are dropped.
type logItem struct {
	line    string
	flushed chan struct{} // closed once every earlier line is written (the line is empty)
}

var logQueue = make(chan logItem, 1024)

func init() {
	go func() {
		for item := range logQueue {
			if item.flushed != nil {
				close(item.flushed)
				continue
			}
			_, _ = os.Stderr.WriteString(item.line)
		}
	}()
}

func logf(format string, args ...any) {
	select {
	case logQueue <- logItem{line: "zen-lead exec: " + fmt.Sprintf(format, args...) + "\n"}:
	default:
	}
}

// flushLog waits (at most limit) until every queued line is written.
func flushLog(limit time.Duration) {
	flushed := make(chan struct{})
	timeout := time.After(limit)
	select {
	case logQueue <- logItem{flushed: flushed}:
	case <-timeout:
		return
	}
	select {
	case <-flushed:
	case <-timeout:
	}
}
