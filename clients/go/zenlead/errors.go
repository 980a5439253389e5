package zenlead

import (
	"errors"
	"fmt"
)

var (
	// ErrNotAcquired: the lock stayed held by someone else for as long as the caller would wait.
	ErrNotAcquired = errors.New("zenlead: lock not acquired")
	// ErrLost: a held lock was lost (no renewal succeeded for 2/3 of its ttl, or someone else holds it).
	ErrLost = errors.New("zenlead: lock lost")
)

func errorf(format string, args ...any) error { return fmt.Errorf("zenlead: "+format, args...) }
