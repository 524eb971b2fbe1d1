// Command vcsim serves govmomi's vCenter simulator (simulator.VPX, or
// simulator.ESX with -esx) as an interop test peer for spherekit.
//
// Build it against Debian's govmomi 0.24.2 with tools/vcsim/build.sh. When the
// server is listening it prints exactly one line to stdout, the SDK URL with
// credentials (https://user:pass@127.0.0.1:PORT/sdk), then serves until
// SIGINT or SIGTERM.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"github.com/vmware/govmomi/simulator"
)

func main() {
	model := simulator.VPX()

	listen := flag.String("listen", "127.0.0.1:0", "address to listen on (host:port)")
	flag.IntVar(&model.Datacenter, "dc", model.Datacenter, "number of datacenters")
	flag.IntVar(&model.Cluster, "cluster", model.Cluster, "clusters per datacenter")
	flag.IntVar(&model.ClusterHost, "host", model.ClusterHost, "hosts per cluster")
	flag.IntVar(&model.Host, "standalone-host", model.Host, "standalone hosts per datacenter")
	flag.IntVar(&model.Machine, "vm", model.Machine, "VMs per host / resource pool")
	flag.IntVar(&model.Datastore, "ds", model.Datastore, "number of datastores")
	flag.IntVar(&model.Pool, "pool", model.Pool, "child resource pools per cluster")
	flag.IntVar(&model.Folder, "folder", model.Folder, "folders per datacenter")
	flag.DurationVar(&simulator.SessionIdleTimeout, "session-idle-timeout", 0,
		"expire sessions idle for longer than this (0 = never)")
	username := flag.String("username", "user", "login user name (empty with empty -password: accept any non-empty credentials)")
	password := flag.String("password", "pass", "login password")
	useTLS := flag.Bool("tls", true, "serve HTTPS with the simulator's built-in localhost certificate")
	esx := flag.Bool("esx", false, "simulate a standalone ESXi host (simulator.ESX) instead of vCenter")
	flag.Parse()

	if *esx {
		// simulator.ESX(): one host; only the VM and datastore counts apply.
		esxModel := simulator.ESX()
		flag.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "vm":
				esxModel.Machine = model.Machine
			case "ds":
				esxModel.Datastore = model.Datastore
			}
		})
		model = esxModel
	}

	// Build the inventory before starting the server.
	if err := model.Create(); err != nil {
		log.Fatalf("vcsim: creating model: %s", err)
	}
	defer model.Remove()

	// Service.Listen carries both the address and the credentials:
	// SessionManager.validLogin compares Login against Listen.User, unless it is
	// simulator.DefaultLogin (pointer identity), which accepts any non-empty pair.
	user := simulator.DefaultLogin
	if *username != "" || *password != "" {
		user = url.UserPassword(*username, *password)
	}
	model.Service.Listen = &url.URL{Host: *listen, User: user}
	if *useTLS {
		// An empty config makes the server use its built-in localhost cert.
		model.Service.TLS = new(tls.Config)
	}

	// SessionIdleTimeout needs no extra wiring in 0.24.2: every Login starts a
	// SessionIdleWatch goroutine on context.Background() (ServeSDK), which
	// deletes the session once it has been idle for longer than the timeout.
	server := model.Service.NewServer()
	defer server.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// os.Stdout is unbuffered; Sync fails harmlessly on a pipe.
	fmt.Println(server.URL.String())
	_ = os.Stdout.Sync()

	<-ctx.Done()
}
