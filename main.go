// Command usersvc is the user-management service. It hands its arguments and
// environment to bootstrap.Main; run it with --help for the commands and
// every setting.
package main

import (
	"os"

	"example.com/usersvc/bootstrap"
)

func main() {
	os.Exit(bootstrap.Main(os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr))
}
