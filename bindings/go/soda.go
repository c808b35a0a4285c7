// SPDX-License-Identifier: LGPL-2.1-or-later

// Package soda is the Go binding of libsoda: protected application-service
// hosting on User-Mode Linux.
//
//	import "libsoda.local/soda"
//
// The module lives in bindings/go of the libsoda tree. It is not fetched
// from a server: point your go.mod at a checkout,
//
//	require libsoda.local/soda v0.0.0
//	replace libsoda.local/soda => /path/to/libsoda/bindings/go
//
// and cgo finds the C library through pkg-config (libsoda.pc, installed
// with the library; for a build tree, PKG_CONFIG_PATH=BUILD/pkgconfig-uninstalled,
// which holds libsoda-uninstalled.pc).
//
// Errors are *Error values that wrap a syscall.Errno, so errors.Is(err,
// os.ErrExist), errors.Is(err, os.ErrNotExist), errors.Is(err,
// os.ErrPermission) and errors.Is(err, syscall.EBUSY) work. Calls that may
// block (starting, stopping, waiting, running commands on a guest) take a
// context.Context and time.Duration values.
//
// Thread model: the C library keeps no thread-local state, so goroutines
// may call it from any OS thread; each Context serialises the calls made
// through it and its servers and networks with a mutex (the C library's
// rule: one thread at a time per context). Blackbox keys, writers, stores
// and readers are independent objects with a mutex each.
package soda

/*
#cgo pkg-config: libsoda
#include <stdlib.h>
#include <soda/soda.h>
#include <soda/network.h>
#include <soda/blackbox.h>
*/
import "C"

import (
	"runtime/cgo"
	"time"
	"unsafe"
)

// Version is the loaded library's version, "MAJOR.MINOR.PATCH".
func Version() string { return C.GoString(C.soda_version()) }

// VersionNumber is MAJOR<<16 | MINOR<<8 | PATCH of the loaded library.
func VersionNumber() uint32 { return uint32(C.soda_version_number()) }

// MemoryMin is the smallest guest memory that boots, in bytes.
func MemoryMin() uint64 { return uint64(C.soda_memory_min()) }

// NameMax is the longest server or image name, in bytes.
func NameMax() int { return int(C.soda_name_max()) }

// CheckName checks a server or image name; the error names the bad byte.
func CheckName(name string) error {
	n, free := cstring(name)
	defer free()
	var e *C.soda_error
	return check("check name", C.soda_name_check(n, &e), e)
}

// cstring gives a C copy of s and the function that frees it.
func cstring(s string) (*C.char, func()) {
	c := C.CString(s)
	return c, func() { C.free(unsafe.Pointer(c)) }
}

// cstringOpt is cstring with "" meaning NULL.
func cstringOpt(s string) (*C.char, func()) {
	if s == "" {
		return nil, func() {}
	}
	return cstring(s)
}

func goString(p *C.char) string {
	if p == nil {
		return ""
	}
	return C.GoString(p)
}

// takeString frees a char * the caller owns.
func takeString(p *C.char) string {
	defer C.soda_free(unsafe.Pointer(p))
	return goString(p)
}

func takeStrv(v **C.char, n C.size_t) []string {
	defer C.soda_strv_free(v)
	out := make([]string, 0, int(n))
	if n == 0 {
		return out
	}
	for _, p := range unsafe.Slice(v, int(n)) {
		out = append(out, C.GoString(p))
	}
	return out
}

// ms converts a duration to the library's int32 milliseconds; negative: no limit.
func ms(d time.Duration) C.int32_t {
	if d < 0 {
		return -1
	}
	m := d.Milliseconds()
	if m > 1<<31-1 {
		m = 1<<31 - 1
	}
	return C.int32_t(m)
}

//export sodaGoDestroy
func sodaGoDestroy(userdata unsafe.Pointer) {
	cgo.Handle(userdata).Delete()
}
