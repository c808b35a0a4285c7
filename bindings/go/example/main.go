// SPDX-License-Identifier: LGPL-2.1-or-later

// A program outside the binding's module that uses it as README says:
// require libsoda.local/soda, replace it with the checkout, build with
// pkg-config finding libsoda.
package main

import (
	"errors"
	"fmt"
	"os"

	"libsoda.local/soda"
)

func main() {
	ctx, err := soda.Open("test:///default", nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer ctx.Close()
	if _, err := ctx.Lookup("nothing"); !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintln(os.Stderr, "lookup of a missing server:", err)
		os.Exit(1)
	}
	fmt.Println("libsoda", soda.Version())
}
