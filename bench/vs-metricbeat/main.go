// Command metricbeat is Metricbeat 7.17.0 built from the Go module proxy, the
// baseline of the side-by-side benchmark in this folder. It is the same entry
// point as Metricbeat's own main: the cmd package registers every module
// (golang included) through metricbeat/include.
package main

import (
	"os"

	"github.com/elastic/beats/v7/metricbeat/cmd"
)

func main() {
	if err := cmd.RootCmd.Execute(); err != nil {
		os.Exit(1)
	}
}
