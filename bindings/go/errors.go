// SPDX-License-Identifier: LGPL-2.1-or-later

package soda

/*
#include <soda/common.h>
*/
import "C"

import (
	"fmt"
	"strings"
	"syscall"
)

// Error is a libsoda failure: the errno, the library's message and, for
// bad input, where it was (Source, 1-based Line and Column; 0 when
// unknown). It wraps its syscall.Errno, so errors.Is works with the
// errnos and with os.ErrExist, os.ErrNotExist, os.ErrPermission.
type Error struct {
	Op      string // the binding's name of the call ("define", "policy parse"...)
	Errno   syscall.Errno
	Message string
	Source  string
	Line    uint32
	Column  uint32
}

func (e *Error) Error() string {
	where := ""
	if e.Source != "" && e.Line != 0 && !strings.HasPrefix(e.Message, e.Source) {
		where = fmt.Sprintf("%s:%d:%d: ", e.Source, e.Line, e.Column)
	}
	return fmt.Sprintf("soda: %s: %s%s", e.Op, where, e.Message)
}

// Unwrap gives the syscall.Errno, through which errors.Is matches
// os.ErrExist and its kin.
func (e *Error) Unwrap() error { return e.Errno }

// Is reports whether target is this error's errno (or an *Error with it).
func (e *Error) Is(target error) bool {
	switch t := target.(type) {
	case syscall.Errno:
		return t == e.Errno
	case *Error:
		return t.Errno == e.Errno
	}
	return false
}

// Code is the library's return value, -errno.
func (e *Error) Code() int { return -int(e.Errno) }

func check(op string, r C.int, e *C.soda_error) error {
	if r >= 0 {
		if e != nil {
			C.soda_error_free(e)
		}
		return nil
	}
	if e == nil {
		return &Error{Op: op, Errno: syscall.Errno(-r), Message: syscall.Errno(-r).Error()}
	}
	defer C.soda_error_free(e)
	return &Error{
		Op:      op,
		Errno:   syscall.Errno(-C.soda_error_code(e)),
		Message: goString(C.soda_error_message(e)),
		Source:  goString(C.soda_error_source(e)),
		Line:    uint32(C.soda_error_line(e)),
		Column:  uint32(C.soda_error_column(e)),
	}
}

// checkRC is check for the calls without a soda_error **.
func checkRC(op string, r C.int) error { return check(op, r, nil) }

func newError(op string, errno syscall.Errno, msg string) error {
	return &Error{Op: op, Errno: errno, Message: msg}
}
