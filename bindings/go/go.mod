module libsoda.local/soda

go 1.19
