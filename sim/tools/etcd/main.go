// Command etcd is the etcd server pinned for the hermetic target; it only
// hands over to upstream's entry point.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
