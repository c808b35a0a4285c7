module example.invalid/sodaversion

go 1.19

require libsoda.local/soda v0.0.0

// The binding is not fetched from a server: point at the checkout.
replace libsoda.local/soda => ../
