// Command testbin is the real node's test image: one static binary (no shell, no libc) that the node e2e tests run
// in pods, since no registry and no busybox are available. Modes:
//
//	testbin sleep [SECONDS]       print "started", sleep (until SIGTERM without SECONDS), exit 0
//	testbin exit N                print "exiting with N", exit N
//	testbin echo WORDS...         print the words and exit 0 (for kubectl exec)
//	testbin serve PORT            HTTP server: / answers "hello from HOSTNAME", /health answers "ok"
//	testbin get URL               GET the URL (retrying for up to 20 s), print the body, exit 1 on failure
//	testbin resolve NAME          print the addresses NAME resolves to (retrying for up to 20 s)
//	testbin kube PATH             GET PATH from the API server as the pod's service account (kubernetes.default.svc)
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: testbin sleep|exit|echo|serve|get|resolve|kube ...")
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "sleep":
		fmt.Println("started")
		if len(args) == 0 {
			// Until SIGTERM (a bare `select {}` would be the runtime's "all goroutines are asleep" crash).
			stop := make(chan os.Signal, 1)
			signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
			<-stop
			return
		}
		time.Sleep(time.Duration(atoi(args[0])) * time.Second)
	case "exit":
		code := atoi(arg(args, 0))
		fmt.Printf("exiting with %d\n", code)
		os.Exit(code)
	case "echo":
		fmt.Println(strings.Join(args, " "))
	case "serve":
		serve(arg(args, 0))
	case "get":
		body, err := retry(func() (string, error) { return get(&http.Client{Timeout: 5 * time.Second}, arg(args, 0), "") })
		if err != nil {
			fail(err.Error())
		}
		fmt.Print(body)
	case "resolve":
		out, err := retry(func() (string, error) {
			addrs, err := net.LookupHost(arg(args, 0))
			return strings.Join(addrs, "\n") + "\n", err
		})
		if err != nil {
			fail(err.Error())
		}
		fmt.Print(out)
	case "kube":
		body, err := retry(func() (string, error) { return kube(arg(args, 0)) })
		if err != nil {
			fail(err.Error())
		}
		fmt.Print(body)
	default:
		fail("unknown mode " + os.Args[1])
	}
}

func serve(port string) {
	host, _ := os.Hostname()
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Printf("%s %s from %s\n", r.Method, r.URL.Path, r.RemoteAddr)
		fmt.Fprintf(w, "hello from %s\n", host)
	})
	fmt.Printf("serving on :%s\n", port)
	if err := http.ListenAndServe(":"+port, mux); err != nil {
		fail(err.Error())
	}
}

func get(c *http.Client, url, token string) (string, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return "", err
	}
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: HTTP %d: %s", url, res.StatusCode, b)
	}
	return string(b), nil
}

func kube(path string) (string, error) {
	const sa = "/var/run/secrets/kubernetes.io/serviceaccount/"
	ca, err := os.ReadFile(sa + "ca.crt")
	if err != nil {
		return "", err
	}
	token, err := os.ReadFile(sa + "token")
	if err != nil {
		return "", err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	return get(c, "https://kubernetes.default.svc"+path, strings.TrimSpace(string(token)))
}

func retry(f func() (string, error)) (string, error) {
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := f()
		if err == nil || time.Now().After(deadline) {
			return out, err
		}
		fmt.Fprintln(os.Stderr, "retrying:", err)
		time.Sleep(500 * time.Millisecond)
	}
}

func arg(args []string, i int) string {
	if i >= len(args) {
		fail("missing argument")
	}
	return args[i]
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		fail("not a number: " + s)
	}
	return n
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "testbin:", msg)
	os.Exit(1)
}
